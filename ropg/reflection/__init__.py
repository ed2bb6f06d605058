"""RPO (Reflective Personalization Optimization): a base model writes a generic answer g, a
retriever ranks the user's profile on ``input ⊕ g``, and a reflection model rewrites g for the
user (reasoning block, then the final answer), trained by SFT on teacher trajectories and by RL
with a 2 -> 6 item curriculum.

The artifact functions (each writes to a given path, resumes, and returns JSON-able facts)::

    generate_generic(split, base, path)            # g (Zero-shot)   rag_answers(...)  # RAG
    retrieve_contexts(split, generics, source, depth, path)
    build_trajectories(split, generics, rankings, teacher, path)
    train_sft(RpoSftSettings(...))                 train_rl(RpoRlSettings(...))
    reflect_split(split, generics, rankings, reflector, path)
    reflection_grid(split, generics, {row: rankings}, base, {column: reflector}, out)

and :func:`reflect` for examples in memory. Commands: ``ropg-reflect``, ``rpo-train``.
"""

from __future__ import annotations

from ropg.reflection.config import QUERY_KINDS, ReflectConfig, TrajectoryConfig
from ropg.reflection.contexts import (
    ContextSource,
    load_rankings,
    query_text,
    rankings_source,
    retrieve_contexts,
    retriever_source,
)
from ropg.reflection.curriculum import k_per_step, parse_curriculum
from ropg.reflection.endpoints import LLMSettings, RpoLLM, make_llm
from ropg.reflection.formats import AnswerFormat, answer_format
from ropg.reflection.generic import generate_generic, rag_answers, read_generic
from ropg.reflection.grid import NO_REFLECTION, grid_values, reflection_grid
from ropg.reflection.inference import Reflection, Reflector, reflect, reflect_split
from ropg.reflection.parser import (
    FALLBACK_REASONS,
    FallbackCounts,
    ParsedReflection,
    ParseSettings,
    parse_reflection,
)
from ropg.reflection.prompts import ReflectionFormat, count_items
from ropg.reflection.rl import train_rl
from ropg.reflection.sft import train_sft
from ropg.reflection.teacher import GeneratorTeacher, StandInTeacher, TeachRequest, make_teacher
from ropg.reflection.train_config import RpoRlSettings, RpoSftSettings
from ropg.reflection.trajectories import (
    DROP_REASONS,
    TrajectoryFilter,
    build_trajectories,
    read_trajectories,
)

__all__ = [
    "DROP_REASONS",
    "FALLBACK_REASONS",
    "NO_REFLECTION",
    "QUERY_KINDS",
    "AnswerFormat",
    "ContextSource",
    "FallbackCounts",
    "GeneratorTeacher",
    "LLMSettings",
    "ParseSettings",
    "ParsedReflection",
    "ReflectConfig",
    "Reflection",
    "ReflectionFormat",
    "Reflector",
    "RpoLLM",
    "RpoRlSettings",
    "RpoSftSettings",
    "StandInTeacher",
    "TeachRequest",
    "TrajectoryConfig",
    "TrajectoryFilter",
    "answer_format",
    "build_trajectories",
    "count_items",
    "generate_generic",
    "grid_values",
    "k_per_step",
    "load_rankings",
    "make_llm",
    "make_teacher",
    "parse_curriculum",
    "parse_reflection",
    "query_text",
    "rag_answers",
    "rankings_source",
    "read_generic",
    "read_trajectories",
    "reflect",
    "reflect_split",
    "reflection_grid",
    "retrieve_contexts",
    "retriever_source",
    "train_rl",
    "train_sft",
]
