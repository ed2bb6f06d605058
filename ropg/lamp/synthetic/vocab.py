"""Word lists for the synthetic LaMP generator.

Twelve topics are shared by every task (a movie, a product, a paper or a tweet can all be about
"ocean"); each task frames them with its own connective words. Nothing here contains a double
quote, which would break LaMP-1's quote-toggling query extraction.
"""

from __future__ import annotations

TOPICS: dict[str, tuple[str, ...]] = {
    name: tuple(words.split())
    for name, words in {
        "space": "galaxy orbit rocket astronaut planet comet telescope nebula lunar asteroid "
        "satellite cosmos gravity meteor spacecraft martian eclipse starlight",
        "ocean": "reef whale coral tide harbor sailor submarine lagoon shark dolphin voyage "
        "lighthouse anchor kelp seabed trawler current islands",
        "music": "guitar melody concert drummer orchestra chorus vinyl rhythm symphony lyrics "
        "jazz piano festival tempo violin ballad studio encore",
        "cooking": "recipe kitchen baking pastry spice noodle oven garlic croissant jalapeño "
        "crème brûlée sourdough broth simmer skillet dumpling saffron",
        "football": "stadium striker goalkeeper league penalty coach tournament midfield "
        "referee trophy derby kickoff transfer dribble offside captain pitch fans",
        "finance": "market investor stock inflation budget banking dividend portfolio "
        "mortgage startup revenue merger currency bonds auditor tariff ledger savings",
        "medicine": "hospital vaccine surgeon clinic diagnosis patient therapy nurse antibiotic "
        "symptoms cardiology genome pharmacy trial immune dosage pandemic recovery",
        "politics": "senate election parliament campaign ballot minister policy governor "
        "reform coalition debate lawmakers treaty referendum diplomat veto congress mayor",
        "computers": "software laptop compiler database algorithm network server kernel "
        "encryption python robotics chipset firmware cloud neural hardware browser cache",
        "gardening": "tomato seedling compost orchard greenhouse tulip soil pruning hedge "
        "fertilizer orchid harvest irrigation mulch sunflower vineyard blossom weeds",
        "travel": "passport airport hostel itinerary luggage café zürich kraków museum "
        "backpack train ferry visa souvenir hotel tourist 東京 beaches",
        "history": "empire medieval castle archive dynasty revolution manuscript pharaoh "
        "cathedral viking monarchy artifact battlefield chronicle treaty fortress ruins",
    }.items()
}

FILLER = tuple(
    "the a an and with of for in on at to from by about very really just also new old good "
    "long little big first last great small young other same different early late own many "
    "some every most quite rather often never always still again here there this that these "
    "those after before while during because although people time year day way world life "
    "part place case week work point number group thing".split()
)

# Names double as per-user signatures; several exercise accents and CJK.
NAMES = (
    "Ana", "José", "Zoë", "Björn", "Łukasz", "François", "Søren", "Anaïs", "Chloé", "Mikhail",
    "Priya", "Kenji", "李伟", "山田", "Oluwaseun", "Siobhán", "Émile", "Nuño", "Ingrid", "Mateo",
    "Dvořák", "Ærøe", "Kowalski", "Okafor",
)  # fmt: skip
UNICODE_BITS = (
    "café", "naïve", "São Paulo", "Zürich", "東京", "北京", "서울", "🚀", "😀", "façade",
    "résumé", "piñata", "smörgåsbord", "Ωmega", "jalapeño", "ciao 👋",
)  # fmt: skip
EMOJI = ("😀", "😂", "🔥", "🙌", "☕", "🎶", "⚽", "🌧️", "✨", "🚀", "❤️", "😴", "🤔", "🎉")

SENTIMENT: dict[int, tuple[str, ...]] = {
    1: tuple("awful terrible useless broken refund junk waste disappointed".split()),
    2: tuple("flimsy mediocre poor underwhelming lacking cheap annoying meh".split()),
    3: tuple("okay average decent fine acceptable ordinary passable alright".split()),
    4: tuple("good solid nice reliable pleased sturdy handy comfortable".split()),
    5: tuple("excellent perfect amazing flawless fantastic superb wonderful brilliant".split()),
}

MOVIE_WORDS = tuple("film story hero follows young family secret journey world finds".split())
PRODUCT_WORDS = tuple("bought product item order package arrived price quality use".split())
NEWS_WORDS = tuple("officials reported said announced according sources local city".split())
PAPER_WORDS = tuple("we propose method results show approach experiments model data".split())
EMAIL_WORDS = tuple("please attached meeting team schedule review thanks update notes".split())
TWEET_WORDS = tuple("today tonight finally literally so totally kinda gonna".split())

NEWS_VERBS = ("backs", "slams", "unveils", "rejects", "wins", "targets", "weighs", "delays")
NEWS_PREFIXES = ("Breaking", "Watch", "Exclusive", "Analysis", "Opinion", "Live", "Explained")
NEWS_TEMPLATES = (
    "{p}: {s} {v} {a} {b}",
    "{s} {v} {a} and {b} | {p}",
    "{p} - {a} {b}, says {s}",
    "Why {s} {v} the {a} {b}",
)
METHOD_WORDS = (
    "contrastive", "bayesian", "federated", "sparse", "hierarchical", "adversarial", "causal",
    "multilingual", "lightweight", "self-supervised", "probabilistic", "differentiable",
)  # fmt: skip
PAPER_TEMPLATES = (
    "{M}: {m} {a} for {b}",
    "Towards {m} {a} with {b}",
    "On {m} {a} and {b}: the {M} framework",
    "Learning {m} {a} from {b} ({M})",
)
CITATION_TEMPLATES = (
    "{A} {b} for {c} {d}",
    "On the {a} of {b} {c}",
    "Learning {a} {b} with {c} {d}",
    "A study of {a} {b} in {c}",
)
EMAIL_PREFIXES = ("Re:", "FW:", "Quick question:", "Update -", "Reminder:", "[team]")
CODENAMES = ("Falcon", "Orion", "Bluebird", "Kestrel", "Nimbus", "Zephyr", "Atlas", "Juniper")
EMAIL_TEMPLATES = ("{p} {s} {a} {b}", "{s}: {a} and {b} ({p})", "{p} {a} {b} for {s}")
CATCHPHRASES = ("honestly", "ngl", "tbh", "lol", "fr", "imo", "omg", "yikes", "lowkey")
