"""Topic vocabularies for the generated InstructionFollowing tasks' response gate.

For each base prompt: words an honest answer is likely to use beside the prompt's own
(``ANSWER_WORDS``), and the topic's key words in each response language the generator
may ask for (``FOREIGN_WORDS``), so a reply in German about the sea can be told from a
German sentence about the weather. The gate compares words by their first five letters.
``english_words`` reads the English word list the gate checks replies against.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

_ANSWER = {
    "Write a short note to a neighbour about a lost cat.": (
        "kitten pet missing seen found neighbor collar tabby garden street phone reward fur grey black "
        "white orange ginger house yard"
    ),
    "Describe your ideal weekend.": (
        "saturday sunday morning relax sleep friends family coffee breakfast walk park book read movie "
        "dinner lunch cook hike afternoon evening nature beach music games"
    ),
    "Explain why the sky looks blue.": (
        "light sunlight scatter scattering atmosphere air wavelength wavelengths rayleigh molecules "
        "nitrogen oxygen violet red sunset colour color shorter longer eyes sun spectrum waves particles"
    ),
    "Write a product description for a reusable water bottle.": (
        "drink steel stainless plastic hydrated hydration leak proof insulated cold hot lid cap bpa eco "
        "environment waste durable carry bag gym travel litre ounces wash dishwasher"
    ),
    "Give advice to someone starting to learn the guitar.": (
        "chords strings practice play playing music fingers tune tuning songs frets fretboard teacher "
        "lessons patience daily minutes pick strum strumming acoustic electric scales rhythm beginner"
    ),
    "Write a short story about a lighthouse keeper.": (
        "lamp light sea storm ship keeper night waves rocks tower island lonely boat sailors fog beam shore "
        "wind lantern stairs coast ocean"
    ),
    "Summarise the benefits of regular exercise.": (
        "health healthy heart muscles fitness activity body weight sleep mood stress energy strength bones "
        "disease blood pressure mental walking running physical"
    ),
    "Write a letter inviting a friend to a picnic.": (
        "park food basket lunch sandwiches invite blanket saturday sunday sun weather lake fruit drinks "
        "afternoon noon meet"
    ),
    "Explain how a bicycle stays upright.": (
        "bike wheels wheel balance steering steer rider gyroscopic moving lean leaning fork trail "
        "handlebars stable stability momentum physics"
    ),
    "Describe a busy market in the morning.": (
        "stalls vendors sellers buyers crowd crowded fruit vegetables fish bread shouting prices baskets "
        "sun smell colours colors noise stall fresh carts coins"
    ),
    "Write a review of an imaginary restaurant.": (
        "food dish dishes dinner menu chef service meal waiter table taste tasty flavour flavor dessert "
        "price stars atmosphere delicious wine course sauce ordered recommend"
    ),
    "Explain what a computer's memory is for.": (
        "ram data storage programs processor cpu store stores bytes temporary disk files running apps "
        "applications access gigabytes cache instructions"
    ),
    "Write a poem about the sea.": (
        "ocean waves wave tide tides shore water salt blue deep foam sand beach wind gulls horizon moon "
        "sailors endless depths"
    ),
    "Plan a one-day trip to a mountain village.": (
        "hike hiking mountains village morning lunch travel train bus drive arrive leave trail views peak "
        "valley cafe local church walk evening return breakfast afternoon"
    ),
    "Describe the rules of a simple card game.": (
        "cards card deck players player turns win wins hand hands deal dealer draw discard points suit "
        "score round pile ace king queen"
    ),
    "Write an announcement for a community book club.": (
        "books book reading read meeting meetings members novel club library discuss discussion month "
        "monthly authors coffee evening"
    ),
}
#: Words an answer to each base prompt is likely to use beside the prompt's own.
ANSWER_WORDS = {prompt: words.split() for prompt, words in _ANSWER.items()}

_FOREIGN = {  # base prompt's first words -> language -> key words of the topic
    "Write a short note": {
        "es": "gato vecino perdido gata",
        "fr": "chat voisin perdu chatte",
        "de": "katze nachbar vermisst kater",
        "it": "gatto vicino smarrito gatta",
        "pt": "gato vizinho perdido gata",
    },
    "Describe your ideal": {
        "es": "fin semana sábado domingo",
        "fr": "week samedi dimanche fin",
        "de": "wochenende samstag sonntag",
        "it": "fine settimana sabato domenica",
        "pt": "fim semana sábado domingo",
    },
    "Explain why the sky": {
        "es": "cielo azul luz atmósfera",
        "fr": "ciel bleu lumière atmosphère",
        "de": "himmel blau licht atmosphäre",
        "it": "cielo azzurro luce atmosfera",
        "pt": "céu azul luz atmosfera",
    },
    "Write a product description": {
        "es": "botella agua reutilizable beber",
        "fr": "bouteille eau gourde boire",
        "de": "flasche wasser trinkflasche trinken",
        "it": "bottiglia acqua borraccia bere",
        "pt": "garrafa água reutilizável beber",
    },
    "Give advice to someone": {
        "es": "guitarra acordes cuerdas practicar",
        "fr": "guitare accords cordes pratiquer",
        "de": "gitarre akkorde saiten üben",
        "it": "chitarra accordi corde suonare",
        "pt": "violão guitarra acordes cordas",
    },
    "Write a short story": {
        "es": "faro farero mar noche",
        "fr": "phare gardien mer nuit",
        "de": "leuchtturm wärter meer nacht",
        "it": "faro guardiano mare notte",
        "pt": "farol faroleiro mar noite",
    },
    "Summarise the benefits": {
        "es": "ejercicio salud corazón cuerpo",
        "fr": "exercice santé cœur corps",
        "de": "bewegung sport gesundheit herz",
        "it": "esercizio salute cuore corpo",
        "pt": "exercício saúde coração corpo",
    },
    "Write a letter inviting": {
        "es": "picnic amigo parque comida",
        "fr": "pique nique ami parc",
        "de": "picknick freund park essen",
        "it": "picnic amico parco cibo",
        "pt": "piquenique amigo parque comida",
    },
    "Explain how a bicycle": {
        "es": "bicicleta equilibrio ruedas ciclista",
        "fr": "vélo équilibre roues cycliste",
        "de": "fahrrad gleichgewicht räder lenken",
        "it": "bicicletta equilibrio ruote",
        "pt": "bicicleta equilíbrio rodas ciclista",
    },
    "Describe a busy market": {
        "es": "mercado puestos vendedores mañana",
        "fr": "marché étals vendeurs matin",
        "de": "markt stände händler morgen",
        "it": "mercato bancarelle venditori mattina",
        "pt": "mercado bancas vendedores manhã",
    },
    "Write a review of": {
        "es": "restaurante comida plato chef",
        "fr": "restaurant repas plat chef",
        "de": "restaurant essen gericht koch",
        "it": "ristorante cibo piatto chef",
        "pt": "restaurante comida prato chef",
    },
    "Explain what a computer's": {
        "es": "memoria ordenador computadora datos",
        "fr": "mémoire ordinateur données",
        "de": "speicher computer daten arbeitsspeicher",
        "it": "memoria computer dati programmi",
        "pt": "memória computador dados",
    },
    "Write a poem about": {
        "es": "mar olas agua playa",
        "fr": "mer vagues eau plage",
        "de": "meer wellen wasser strand",
        "it": "mare onde acqua spiaggia",
        "pt": "mar ondas água praia",
    },
    "Plan a one-day trip": {
        "es": "montaña pueblo viaje excursión",
        "fr": "montagne village voyage excursion",
        "de": "berg dorf reise ausflug",
        "it": "montagna villaggio paese gita",
        "pt": "montanha aldeia vila viagem",
    },
    "Describe the rules of": {
        "es": "cartas juego jugadores reglas",
        "fr": "cartes jeu joueurs règles",
        "de": "karten spiel spieler regeln",
        "it": "carte gioco giocatori regole",
        "pt": "cartas jogo jogadores regras",
    },
    "Write an announcement for": {
        "es": "club libros lectura reunión",
        "fr": "club livres lecture réunion",
        "de": "buchclub bücher lesen treffen",
        "it": "club libri lettura incontro",
        "pt": "clube livros leitura reunião",
    },
}


def foreign_words(request: str, language: str) -> list[str]:
    """The topic's key words in the given language (empty when none are known)."""
    for start, by_language in _FOREIGN.items():
        if request.startswith(start):
            return by_language.get(language, "").split()
    return []


@functools.lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """reasoning-gym's English word list (151,000 words of 3-10 letters), lowercase: the
    response gate's test that a reply is made of English words (rewards.if_prose). The file
    is found without importing the package (its import takes seconds)."""
    spec = importlib.util.find_spec("reasoning_gym")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "InstructionFollowing-v0's response gate reads reasoning-gym's English word list: run "
            "scripts/setup, or pip install --no-deps reasoning-gym==0.1.25"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "words3to10.txt"
    return frozenset(path.read_text().lower().split())
