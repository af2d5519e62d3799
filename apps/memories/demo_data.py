"""The demo space's data: six people and their two agents, from January to November 2026.

Each session is a conversation; each message becomes an episode, and the memories an
assistant would keep from it point back to that episode. The data is written to give
consolidation work of every kind, on purpose:

- real updates: moves, new jobs, reschedules (Brasa's opening, 15 October, then
  2 November, then 9 November), new numbers, reversed preferences, "no longer";
- duplicates and paraphrases, some with few words in common, some saying with a
  negation what the other says without one;
- look-alikes that must stay apart: the same fact about a relative, two pets, two
  allergies, weekly runs and dinners on different dates, a habit and one instance of it;
- topics with enough memories per person to be worth a summary, one-off memories
  recalled once long ago that have faded, and places, organisations and relatives.

`DEMO_EXPECTATIONS` names, by memory key, what consolidation should and must not
propose on this data; tests/test_demo.py checks the queue against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from apps.memories.models import Kind, LinkType

AGENT = "assistant"
# Maya talks to a running coach, an agent of its own; the others to the assistant.
COACH = "running-coach"
MAYA = "Maya Okafor"
TOMAS = "Tomás Reyes"
PRIYA = "Priya Raman"
DANIEL = "Daniel Mensah"
AIKO = "Aiko Tanaka"
LENA = "Lena Fischer"
PEOPLE = (MAYA, TOMAS, PRIYA, DANIEL, AIKO, LENA)
AGENT_OF = {MAYA: COACH}


def agent_of(person: str) -> str:
    return AGENT_OF.get(person, AGENT)


@dataclass(frozen=True)
class Derived:
    key: str
    kind: str
    content: str
    tags: tuple[str, ...] = ()
    importance: float = 0.5


@dataclass(frozen=True)
class Message:
    speaker: str  # AGENT, or "" for the session's person
    text: str
    memories: tuple[Derived, ...] = ()


@dataclass(frozen=True)
class Session:
    id: str
    subject: str
    started: datetime
    messages: tuple[Message, ...] = field(default_factory=tuple)


def fact(key: str, content: str, *tags: str, importance: float = 0.5) -> Derived:
    return Derived(key, Kind.FACT, content, tags, importance)


def pref(key: str, content: str, *tags: str, importance: float = 0.5) -> Derived:
    return Derived(key, Kind.PREFERENCE, content, tags, importance)


def event(key: str, content: str, *tags: str, importance: float = 0.5) -> Derived:
    return Derived(key, Kind.EPISODIC, content, tags, importance)


def how(key: str, content: str, *tags: str, importance: float = 0.5) -> Derived:
    return Derived(key, Kind.PROCEDURAL, content, tags, importance)


def says(text: str, *memories: Derived) -> Message:
    """A message from the session's person."""
    return Message("", text, memories)


def replies(text: str, *memories: Derived) -> Message:
    """A message from the assistant."""
    return Message(AGENT, text, memories)


def session(id: str, subject: str, when: str, *messages: Message) -> Session:
    return Session(id, subject, datetime.fromisoformat(when).replace(tzinfo=UTC), messages)


MAYA_SESSIONS = [
    session(
        "maya-01",
        MAYA,
        "2026-03-02 07:40",
        says(
            "Hi! I signed up for the Lisbon marathon in December. It's my first one.",
            fact(
                "maya_marathon",
                "Maya is running the Lisbon marathon in December; it is her first marathon.",
                "running",
                "goals",
                importance=0.9,
            ),
        ),
        replies("Congratulations! How much are you running each week at the moment?"),
        says(
            "About 30 km a week, mostly easy runs along the river before work.",
            fact(
                "maya_volume",
                "Maya runs about 30 km a week, mostly easy runs along the river before work.",
                "running",
                importance=0.6,
            ),
        ),
        says(
            "Also I'm vegetarian, so keep that in mind for any nutrition advice.",
            pref(
                "maya_veg",
                "Maya is vegetarian; nutrition advice must not include meat or fish.",
                "diet",
                importance=0.8,
            ),
        ),
        says(
            "I live in Alfama, right by the river, and I'm a product designer at Atlântico Studio.",
            fact("maya_home", "Maya lives in Lisbon, in Alfama, near the river.", "home"),
            fact("maya_job", "Maya is a product designer at Atlântico Studio.", "work"),
        ),
    ),
    session(
        "maya-02",
        MAYA,
        "2026-03-11 07:15",
        says(
            "My left knee hurts after long runs over 20 km.",
            event(
                "maya_knee",
                "Maya's left knee hurts after long runs over 20 km.",
                "health",
                "running",
                importance=0.8,
            ),
        ),
        replies(
            "Let's cap long runs at 18 km for two weeks and add strength work twice a week.",
            how(
                "maya_knee_plan",
                "Maya's knee plan: long runs capped at 18 km, strength work twice a week.",
                "health",
                "running",
            ),
        ),
        says(
            "Okay. I prefer workouts planned in kilometres, not miles.",
            pref(
                "maya_units",
                "Maya wants distances in kilometres, never miles.",
                "preferences",
            ),
        ),
        says(
            "Random one: when does the post office in Alfama close on Saturdays?",
            event(
                "maya_post_office",
                "Maya asked when the Alfama post office closes on Saturdays (13:00).",
                "errands",
                importance=0.1,
            ),
        ),
    ),
    session(
        "maya-03",
        MAYA,
        "2026-03-25 19:05",
        says(
            "Update: I've started eating fish again, my doctor suggested it for iron.",
            pref(
                "maya_pesc",
                "Maya eats fish again (pescatarian) on her doctor's advice for iron; no other "
                "meat.",
                "diet",
                importance=0.8,
            ),
        ),
        says(
            "Knee is fine now, I did 24 km on Sunday without pain.",
            event(
                "maya_knee_ok",
                "Maya ran 24 km without knee pain; her knee has recovered.",
                "health",
                "running",
                importance=0.7,
            ),
        ),
        replies(
            "Great news. For long runs: warm up for ten minutes, then keep an easy pace "
            "for the first half.",
            how(
                "maya_longrun",
                "Maya's long-run routine: ten-minute warm-up, easy pace for the first half, "
                "then steady.",
                "running",
                "routine",
                importance=0.6,
            ),
        ),
    ),
    session(
        "maya-04",
        MAYA,
        "2026-04-06 08:20",
        says(
            "I do my long run every Sunday morning, usually along the coast towards Cascais.",
            fact(
                "maya_sunday_habit",
                "Maya does her long run every Sunday morning, usually along the coast "
                "towards Cascais.",
                "running",
                "routine",
            ),
        ),
        says(
            "Yesterday, Sunday 5 April: 21 km in 2:05, felt easy.",
            event(
                "maya_run_apr",
                "Maya ran 21 km in 2:05 on Sunday 5 April and it felt easy.",
                "running",
            ),
        ),
        says(
            "I'm up to about 45 km a week now.",
            fact("maya_volume_45", "Maya now runs about 45 km a week.", "running", importance=0.6),
        ),
    ),
    session(
        "maya-05",
        MAYA,
        "2026-05-04 20:10",
        says(
            "My brother Chidi came down from Porto; he's training for the Porto half marathon.",
            fact(
                "maya_chidi",
                "Chidi, Maya's brother, lives in Porto and is training for the Porto half "
                "marathon.",
                "family",
                "running",
            ),
        ),
        says(
            "We did 24 km together on Sunday 3 May along the coast.",
            event(
                "maya_run_may",
                "Maya ran 24 km along the coast with her brother Chidi on Sunday 3 May.",
                "running",
            ),
        ),
        says(
            "And please, kilometres. I don't think in miles at all.",
            pref(
                "maya_units_again",
                "Maya prefers kilometres to miles when planning runs.",
                "preferences",
            ),
        ),
    ),
    session(
        "maya-06",
        MAYA,
        "2026-06-03 12:30",
        says(
            "Big news: I'm leaving Atlântico Studio. I start as design lead at Farol Health "
            "on 15 June.",
            fact(
                "maya_job_farol",
                "Maya works at Farol Health as design lead since 15 June.",
                "work",
                importance=0.7,
            ),
        ),
        says(
            "I'm going up to Porto on 20 and 21 June for Chidi's birthday.",
            event(
                "maya_porto_trip",
                "Maya visited Porto on 20 and 21 June for her brother Chidi's birthday.",
                "travel",
                "family",
            ),
        ),
        says(
            "No caffeinated gels please, they wreck my stomach.",
            pref(
                "maya_gels",
                "Maya avoids caffeinated energy gels; they upset her stomach.",
                "diet",
                "running",
            ),
        ),
    ),
    session(
        "maya-07",
        MAYA,
        "2026-07-13 07:50",
        says(
            "Sunday long run yesterday: 28 km along the coast, felt strong.",
            event(
                "maya_run_jul",
                "Maya ran 28 km along the coast on Sunday 12 July and felt strong.",
                "running",
            ),
        ),
        says(
            "Peak weeks are around 60 km now.",
            fact(
                "maya_volume_60",
                "Maya's weekly running volume has reached about 60 km at peak.",
                "running",
                importance=0.6,
            ),
        ),
        replies(
            "For race day: a gel every 40 minutes from minute 45, and water at every station.",
            how(
                "maya_fuelling",
                "Maya's marathon fuelling plan: a gel every 40 minutes from minute 45, water "
                "at every station.",
                "running",
                "diet",
                importance=0.7,
            ),
        ),
    ),
    session(
        "maya-08",
        MAYA,
        "2026-08-17 18:45",
        says(
            "Ran the Setúbal half yesterday in 1:49!",
            event(
                "maya_half",
                "Maya ran the Setúbal half marathon in 1:49 on 16 August.",
                "running",
                importance=0.6,
            ),
        ),
        says(
            "My goal was to break 4 hours in Lisbon, but after that I think 3:50 is realistic.",
            fact(
                "maya_target_4h",
                "Maya's marathon goal was to finish in under 4 hours.",
                "running",
                "goals",
            ),
            fact(
                "maya_target_350",
                "Maya's marathon goal is now 3:50.",
                "running",
                "goals",
                importance=0.7,
            ),
        ),
    ),
    session(
        "maya-09",
        MAYA,
        "2026-09-21 19:30",
        says(
            "I've decided to stop eating fish again. Fully vegetarian from now on.",
            pref(
                "maya_veg_again",
                "Maya no longer eats fish; she is fully vegetarian again.",
                "diet",
                importance=0.8,
            ),
        ),
        says(
            "For the iron my doctor put me on a supplement instead.",
            how(
                "maya_iron",
                "Maya takes an iron supplement every morning, on her doctor's advice.",
                "diet",
                "health",
            ),
        ),
        says(
            "Long run on Sunday 20 September: 32 km, longest ever.",
            event(
                "maya_run_sep",
                "Maya ran 32 km on Sunday 20 September, her longest run so far.",
                "running",
            ),
        ),
    ),
    session(
        "maya-10",
        MAYA,
        "2026-10-28 07:20",
        replies(
            "Taper plan: cut your weekly volume by a third each week over the last three weeks.",
            how(
                "maya_taper",
                "Maya's taper: cut the weekly volume by a third each week over the last three "
                "weeks before the marathon.",
                "running",
            ),
        ),
        says(
            "During race week keep messages short: one thing to do per day.",
            pref(
                "maya_race_week",
                "In race week Maya wants short messages, one action per day.",
                "preferences",
            ),
        ),
        says(
            "I work from home on Mondays and Fridays, so I run at lunch then.",
            fact(
                "maya_wfh",
                "Maya works from home every Monday and Friday and runs at lunchtime on those days.",
                "work",
                "running",
            ),
        ),
        says(
            "My flat is in the old town, a few steps from the Tagus.",
            fact(
                "maya_home_again",
                "Maya's flat is in Lisbon's old town, a few steps from the Tagus.",
                "home",
            ),
        ),
    ),
    session(
        "maya-11",
        MAYA,
        "2026-11-18 21:00",
        says(
            "After the race I fly to Lagos to spend Christmas with my parents, from 20 December.",
            fact(
                "maya_lagos",
                "Maya is flying to Lagos, Nigeria, on 20 December to spend Christmas with her "
                "parents.",
                "travel",
                "family",
            ),
        ),
        says(
            "Chidi is vegetarian too, so Christmas dinner will be easy for us.",
            fact(
                "maya_chidi_veg",
                "Chidi, Maya's brother, is vegetarian as well.",
                "family",
                "diet",
            ),
        ),
    ),
]

TOMAS_SESSIONS = [
    session(
        "tomas-01",
        TOMAS,
        "2026-08-24 16:00",
        says(
            "I'm opening a small restaurant in Porto called Brasa, wood-fired cooking.",
            fact(
                "tomas_brasa",
                "Tomás is opening Brasa, a small wood-fired restaurant in Porto.",
                "restaurant",
                "work",
                importance=0.9,
            ),
        ),
        says(
            "We plan to open on 15 October.",
            fact(
                "tomas_open_oct",
                "Brasa is planned to open on 15 October.",
                "restaurant",
                "dates",
                importance=0.8,
            ),
        ),
        replies("Exciting! Who are you working with?"),
        says(
            "My sister Inês runs front of house; our supplier for fish is Mercado do Bolhão.",
            fact(
                "tomas_ines",
                "Inês, Tomás's sister, runs front of house at Brasa.",
                "people",
                "restaurant",
                importance=0.6,
            ),
            fact(
                "tomas_supplier",
                "Brasa buys its fish from Mercado do Bolhão.",
                "suppliers",
                importance=0.4,
            ),
        ),
        says(
            "I live in Bonfim, ten minutes' walk from the restaurant.",
            fact(
                "tomas_home",
                "Tomás lives in Porto, in Bonfim, ten minutes' walk from Brasa.",
                "home",
            ),
        ),
    ),
    session(
        "tomas-02",
        TOMAS,
        "2026-09-07 15:30",
        says(
            "Bad news: the kitchen inspection slipped, so opening moves to 2 November.",
            fact(
                "tomas_open_nov",
                "Brasa's opening moved to 2 November because the kitchen inspection slipped.",
                "restaurant",
                "dates",
                importance=0.8,
            ),
        ),
        says(
            "Please always send me prep lists as a checklist, one item per line.",
            pref(
                "tomas_lists",
                "Tomás wants prep lists as checklists, one item per line.",
                "preferences",
            ),
        ),
        says(
            "Keep cashews out of anything you suggest for tastings, I'm allergic.",
            fact(
                "tomas_cashews",
                "Tomás is allergic to cashews; no cashew sauces in his tastings.",
                "health",
                "menu",
                importance=0.8,
            ),
        ),
        says(
            "And Inês can't have shellfish, she's allergic.",
            fact(
                "tomas_ines_shellfish",
                "Inês, Tomás's sister, is allergic to shellfish.",
                "health",
                "people",
                importance=0.7,
            ),
        ),
    ),
    session(
        "tomas-03",
        TOMAS,
        "2026-09-14 23:10",
        says(
            "Menu test tonight: grilled octopus, charred leeks with romesco, and a "
            "burnt-cheesecake.",
            event(
                "tomas_menu",
                "Tomás tested a menu of grilled octopus, charred leeks with romesco and burnt "
                "cheesecake.",
                "menu",
                importance=0.6,
            ),
        ),
        says(
            "For the octopus: boil 40 minutes, cool in the liquid, then grill hard for 3 "
            "minutes a side.",
            how(
                "tomas_octopus",
                "Brasa's octopus: boil 40 minutes, cool in the cooking liquid, grill 3 minutes "
                "a side on high heat.",
                "menu",
                "recipe",
                importance=0.7,
            ),
        ),
        says(
            "Saturday I cooked for four investors at Brasa, they loved the leeks.",
            event(
                "tomas_dinner_investors",
                "Tomás cooked a tasting dinner at Brasa for four investors on 12 September.",
                "restaurant",
                "dinners",
            ),
        ),
        says(
            "Romesco: peppers and tomatoes roasted on the embers, blitzed with toasted "
            "almonds, garlic and sherry vinegar.",
            how(
                "tomas_romesco",
                "Brasa's romesco: roast peppers and tomatoes on the embers, blend with toasted "
                "almonds, garlic and sherry vinegar.",
                "menu",
                "recipe",
            ),
        ),
    ),
    session(
        "tomas-04",
        TOMAS,
        "2026-09-28 17:40",
        says(
            "Saturday I cooked dinner for the new kitchen team, just to get to know them.",
            event(
                "tomas_dinner_staff",
                "Tomás cooked dinner at Brasa for the new kitchen team on 26 September.",
                "restaurant",
                "dinners",
            ),
        ),
        says(
            "The restaurant number is +351 22 100 4410, put it on the cards.",
            fact(
                "tomas_phone",
                "Brasa's phone number is +351 22 100 4410.",
                "restaurant",
                "contacts",
            ),
        ),
        says(
            "I hired Rui Costa as sous-chef. He starts 5 October.",
            fact(
                "tomas_rui",
                "Rui Costa is Brasa's sous-chef; he started on 5 October.",
                "people",
                "restaurant",
            ),
        ),
        says(
            "Reminder for the prep lists: checklist, one line per item.",
            pref(
                "tomas_lists_again",
                "Send Tomás prep lists as a checklist with one item on each line.",
                "preferences",
            ),
        ),
        says(
            "Quick one: how many grams in a cup of flour?",
            event(
                "tomas_flour",
                "Tomás asked how many grams a cup of flour weighs (about 125 g).",
                "kitchen",
                importance=0.1,
            ),
        ),
        says(
            "Bookings by phone only, I don't want an online system.",
            pref(
                "tomas_bookings_phone",
                "Tomás wants Brasa's reservations taken by phone only, with no online booking.",
                "restaurant",
                "preferences",
            ),
        ),
    ),
    session(
        "tomas-05",
        TOMAS,
        "2026-10-20 11:15",
        says(
            "Moved again. The extraction hood is late, so we open on 9 November.",
            fact(
                "tomas_open_nov9",
                "Brasa's opening moved again, to 9 November, because the extraction hood "
                "arrives late.",
                "restaurant",
                "dates",
                importance=0.8,
            ),
        ),
        says(
            "New phone number for Brasa: +351 22 100 7788. The old line is gone.",
            fact(
                "tomas_phone_new",
                "Brasa's phone number is now +351 22 100 7788; the old line no longer works.",
                "restaurant",
                "contacts",
            ),
        ),
        says(
            "We stopped buying at the Bolhão; our fish now comes straight off a Matosinhos "
            "boat, the Mar Azul.",
            fact(
                "tomas_supplier_new",
                "Brasa now buys its fish from Mar Azul, a boat in Matosinhos, no longer from "
                "the market.",
                "suppliers",
                importance=0.5,
            ),
        ),
    ),
    session(
        "tomas-06",
        TOMAS,
        "2026-11-10 10:30",
        says(
            "We opened last night! 42 covers, the octopus sold out.",
            event(
                "tomas_opened",
                "Brasa opened on 9 November with 42 covers; the octopus sold out.",
                "restaurant",
                importance=0.9,
            ),
        ),
        says(
            "I changed my mind about bookings: we take them online through the Brasa website now.",
            pref(
                "tomas_bookings_online",
                "Tomás now wants Brasa's reservations taken online through its website as well.",
                "restaurant",
                "preferences",
            ),
        ),
        says(
            "Same as always for the prep lists: a checklist, one item per line.",
            pref(
                "tomas_lists_third",
                "Tomás wants his prep lists as a checklist, one item per line.",
                "preferences",
            ),
        ),
        replies(
            "Noted. Want me to keep the closing routine? Embers out by 23:30, grill scraped, "
            "stocks labelled with the date.",
            how(
                "tomas_closing",
                "Brasa's closing routine: embers out by 23:30, grill scraped, stocks labelled "
                "with the date.",
                "restaurant",
                "routine",
            ),
        ),
    ),
    session(
        "tomas-07",
        TOMAS,
        "2026-11-24 15:00",
        says(
            "Supplier orders go out every Thursday by 15:00, please remind me.",
            how(
                "tomas_orders",
                "Tomás sends Brasa's supplier orders every Thursday by 15:00.",
                "suppliers",
                "routine",
            ),
        ),
        says(
            "Sunday I cooked the staff dinner again, a feijoada this time.",
            event(
                "tomas_dinner_staff_2",
                "Tomás cooked a feijoada for the Brasa staff dinner on 22 November.",
                "restaurant",
                "dinners",
            ),
        ),
        says(
            "Inês is doing the wine list now too.",
            fact(
                "tomas_ines_wine",
                "Inês, Tomás's sister, also writes Brasa's wine list now.",
                "people",
                "restaurant",
            ),
        ),
        says(
            "I fly to Madrid on 7 December to see my parents.",
            fact(
                "tomas_madrid",
                "Tomás is flying to Madrid on 7 December to visit his parents.",
                "travel",
                "family",
            ),
        ),
    ),
]

PRIYA_SESSIONS = [
    session(
        "priya-01",
        PRIYA,
        "2026-01-12 18:20",
        says(
            "I'm a backend engineer at Northwind Analytics, living in Ancoats in Manchester.",
            fact(
                "priya_job",
                "Priya is a backend engineer at Northwind Analytics.",
                "work",
                importance=0.7,
            ),
            fact("priya_home", "Priya lives in Manchester, in Ancoats.", "home"),
        ),
        says(
            "Medical thing to remember: I'm allergic to penicillin.",
            fact(
                "priya_penicillin",
                "Priya is allergic to penicillin.",
                "health",
                importance=0.9,
            ),
        ),
        says(
            "I have a cat, Miso. He's nine.",
            fact("priya_cat", "Priya has a nine-year-old cat called Miso.", "pets"),
        ),
        says(
            "Never book me a meeting before ten, I'm useless in the mornings.",
            pref(
                "priya_mornings",
                "Priya prefers meetings after ten in the morning; she is not a morning person.",
                "work",
                "preferences",
            ),
        ),
    ),
    session(
        "priya-02",
        PRIYA,
        "2026-02-02 19:00",
        says(
            "We also have a dog now, Pepper, three years old. Needs a long walk every evening.",
            fact(
                "priya_dog",
                "Priya has a three-year-old dog called Pepper, who needs a long walk every "
                "evening.",
                "pets",
            ),
        ),
        says(
            "Oh and latex too. I'm allergic to latex as well as penicillin.",
            fact("priya_latex", "Priya is allergic to latex.", "health", importance=0.9),
        ),
        says(
            "When I'm on call, message me on Signal first and phone after 10 minutes.",
            how(
                "priya_paging",
                "When Priya is on call, reach her on Signal first, then phone after 10 minutes.",
                "work",
                "routine",
            ),
        ),
        says(
            "I do the Heaton Park parkrun most Saturdays.",
            fact(
                "priya_parkrun",
                "Priya runs the Heaton Park parkrun on most Saturday mornings.",
                "running",
                "routine",
            ),
        ),
        says(
            "Can you remind me the IKEA parcel comes on 5 February?",
            event(
                "priya_parcel",
                "Priya's IKEA parcel was due on 5 February.",
                "errands",
                importance=0.1,
            ),
        ),
    ),
    session(
        "priya-03",
        PRIYA,
        "2026-03-09 20:30",
        says(
            "I accepted an offer from Lumen Bank in Lisbon! Starting 1 May.",
            event(
                "priya_offer",
                "Priya accepted a job offer from Lumen Bank in Lisbon on 6 March.",
                "work",
            ),
        ),
        says(
            "Parkrun on Saturday 7 March: 26:40, a PB.",
            event(
                "priya_parkrun_mar",
                "Priya ran the Heaton Park parkrun on 7 March in 26:40, a personal best.",
                "running",
            ),
        ),
        says(
            "For flights, window seat please, always.",
            pref("priya_window", "Priya prefers a window seat on flights.", "travel"),
        ),
        says(
            "Again: nothing before 10:00. Early meetings wreck my day.",
            pref(
                "priya_mornings_again",
                "Schedule nothing for Priya before 10:00; early meetings drain her.",
                "work",
                "preferences",
            ),
        ),
    ),
    session(
        "priya-04",
        PRIYA,
        "2026-04-27 21:00",
        says(
            "Done! Moved to Lisbon on 25 April, we have a flat in Arroios.",
            fact(
                "priya_home_lisbon",
                "Priya moved to Lisbon on 25 April and lives in Arroios.",
                "home",
                importance=0.7,
            ),
        ),
        says(
            "Flew out of Manchester on the 24th with both animals, all fine.",
            event(
                "priya_move_flight",
                "Priya flew from Manchester to Lisbon on 24 April with Miso and Pepper.",
                "travel",
                "pets",
            ),
        ),
        says(
            "Vet says Miso's jabs are due in May, Pepper's in September.",
            fact(
                "priya_miso_jabs",
                "Miso, Priya's cat, is due for his vaccinations in May.",
                "pets",
            ),
            fact(
                "priya_pepper_jabs",
                "Pepper, Priya's dog, is due for his vaccinations in September.",
                "pets",
            ),
        ),
    ),
    session(
        "priya-05",
        PRIYA,
        "2026-05-18 19:45",
        says(
            "First weeks at Lumen Bank are great. I'm a senior backend engineer there.",
            fact(
                "priya_job_lumen",
                "Priya is a senior backend engineer at Lumen Bank, since 1 May.",
                "work",
                importance=0.7,
            ),
        ),
        says(
            "Send me written agendas the day before any meeting, please.",
            pref(
                "priya_agendas",
                "Priya wants a written agenda the day before every meeting.",
                "work",
                "preferences",
            ),
        ),
        says(
            "No parkrun nearby, so I run along the river on Saturday mornings instead.",
            fact(
                "priya_river_runs",
                "Priya runs along the river in Lisbon on Saturday mornings.",
                "running",
                "routine",
            ),
        ),
        says(
            "Restaurant tips welcome, but remember I'm vegetarian.",
            pref("priya_veg", "Priya is vegetarian.", "diet"),
        ),
    ),
    session(
        "priya-06",
        PRIYA,
        "2026-07-06 18:10",
        says(
            "Change of heart on flights: aisle seat from now on, I get up a lot on long trips.",
            pref(
                "priya_aisle",
                "Priya now prefers an aisle seat on flights, because she gets up often on long "
                "trips.",
                "travel",
            ),
        ),
        says(
            "I'm flying to Chennai on 18 December to see my parents, for three weeks.",
            fact(
                "priya_chennai",
                "Priya flies to Chennai on 18 December to spend three weeks with her parents.",
                "travel",
                "family",
            ),
        ),
        says(
            "The pharmacy asked again, so for the record: penicillin allergy.",
            fact(
                "priya_penicillin_again",
                "Priya has a penicillin allergy.",
                "health",
                importance=0.9,
            ),
        ),
        says(
            "My on-call week is the first week of every month.",
            fact(
                "priya_oncall",
                "Priya's on-call week is the first week of each month.",
                "work",
            ),
        ),
    ),
    session(
        "priya-07",
        PRIYA,
        "2026-09-14 20:00",
        says(
            "Berlin was great: I gave my talk on queue back-pressure at the SRE conference, "
            "9 to 11 September.",
            event(
                "priya_berlin",
                "Priya spoke on queue back-pressure at the SRE conference in Berlin, "
                "9 to 11 September.",
                "work",
                "travel",
            ),
        ),
        says(
            "On-call rotation changed: now it's the third week of every month.",
            fact(
                "priya_oncall_third",
                "Priya's on-call week is now the third week of each month.",
                "work",
            ),
        ),
        says(
            "The Chennai flight moved, I now leave on 16 December.",
            fact(
                "priya_chennai_moved",
                "Priya's flight to Chennai moved to 16 December; she still stays three weeks.",
                "travel",
                "family",
            ),
        ),
    ),
    session(
        "priya-08",
        PRIYA,
        "2026-11-02 21:15",
        says(
            "Started Portuguese classes, Tuesday evenings, at a school in Arroios.",
            fact(
                "priya_portuguese",
                "Priya takes Portuguese classes on Tuesday evenings at a school in Arroios.",
                "learning",
            ),
        ),
        says(
            "Home is Arroios now, has been since April.",
            fact(
                "priya_home_again",
                "Priya's home has been in Arroios, Lisbon, since April.",
                "home",
            ),
        ),
        says(
            "Miso has a kidney problem, the vet put him on a renal diet.",
            fact(
                "priya_miso_kidney",
                "Miso, Priya's cat, has a kidney condition and eats a renal diet.",
                "pets",
                "health",
            ),
        ),
        says(
            "Pepper had a grass seed stuck in a paw on 30 October, removed at the vet.",
            event(
                "priya_pepper_paw",
                "Pepper, Priya's dog, had a grass seed removed from a paw by the vet on 30 "
                "October.",
                "pets",
            ),
        ),
    ),
]

DANIEL_SESSIONS = [
    session(
        "daniel-01",
        DANIEL,
        "2026-02-16 21:30",
        says(
            "I teach physics at Hillside Academy in Leeds.",
            fact(
                "daniel_job",
                "Daniel teaches physics at Hillside Academy in Leeds.",
                "work",
                importance=0.7,
            ),
        ),
        says(
            "My wife Efua is a nurse at St James's; our kids are Kofi, 8, and Ama, 5.",
            fact(
                "daniel_efua",
                "Efua, Daniel's wife, is a nurse at St James's Hospital in Leeds.",
                "family",
            ),
            fact(
                "daniel_kids",
                "Daniel's children are Kofi, aged 8, and Ama, aged 5.",
                "family",
                importance=0.7,
            ),
        ),
        says(
            "Kofi is allergic to peanuts, it's serious.",
            fact(
                "daniel_kofi_peanuts",
                "Kofi, Daniel's son, has a serious peanut allergy.",
                "family",
                "health",
                importance=0.9,
            ),
        ),
        says(
            "Remind me of things the evening before, not on the morning itself.",
            pref(
                "daniel_reminders",
                "Daniel wants reminders the evening before, not on the morning itself.",
                "preferences",
            ),
        ),
    ),
    session(
        "daniel-02",
        DANIEL,
        "2026-03-02 20:45",
        says(
            "Swimming: Kofi on Tuesdays at 17:00, Ama on Thursdays at 17:00.",
            fact(
                "daniel_kofi_swim",
                "Kofi, Daniel's son, has a swimming lesson every Tuesday at 17:00.",
                "family",
                "schedule",
            ),
            fact(
                "daniel_ama_swim",
                "Ama, Daniel's daughter, has a swimming lesson every Thursday at 17:00.",
                "family",
                "schedule",
            ),
        ),
        says(
            "My doctor says my blood sugar is borderline, I have to cut out sugar.",
            pref(
                "daniel_sugar",
                "Daniel is cutting out sugar completely; his doctor says his blood sugar is "
                "borderline.",
                "diet",
                "health",
                importance=0.7,
            ),
        ),
        says(
            "Library books are due back on 14 March, don't let me forget.",
            event(
                "daniel_library",
                "Daniel's library books were due back on 14 March.",
                "errands",
                importance=0.1,
            ),
        ),
    ),
    session(
        "daniel-03",
        DANIEL,
        "2026-04-13 21:00",
        says(
            "I cycle to school, it's 9 km each way.",
            fact(
                "daniel_commute",
                "Daniel cycles 9 km each way to Hillside Academy.",
                "work",
                "routine",
            ),
        ),
        says(
            "Marking: I do it Sunday afternoons, one class at a time, comments first.",
            how(
                "daniel_marking",
                "Daniel marks on Sunday afternoons, one class at a time, writing the comments "
                "first.",
                "work",
                "routine",
            ),
        ),
        says(
            "Efua and I went to Tharavadu on Saturday for our anniversary.",
            event(
                "daniel_dinner_anniversary",
                "Daniel and Efua had an anniversary dinner at Tharavadu on 11 April.",
                "family",
                "dinners",
            ),
        ),
    ),
    session(
        "daniel-04",
        DANIEL,
        "2026-05-25 20:15",
        says(
            "We're planning a family holiday in Accra, 28 July to 18 August.",
            fact(
                "daniel_accra",
                "Daniel's family holiday in Accra runs from 28 July to 18 August.",
                "travel",
                "family",
            ),
        ),
        says(
            "Kofi's swimming moved to Wednesdays at 17:30.",
            fact(
                "daniel_kofi_swim_wed",
                "Kofi, Daniel's son, now has his swimming lesson every Wednesday at 17:30.",
                "family",
                "schedule",
            ),
        ),
        says(
            "On flights I always take the aisle so I can get to the kids.",
            pref(
                "daniel_aisle",
                "Daniel always books aisle seats on flights so he can reach the children.",
                "travel",
            ),
        ),
    ),
    session(
        "daniel-05",
        DANIEL,
        "2026-07-06 19:30",
        says(
            "I got the promotion: head of science at Hillside from September.",
            fact(
                "daniel_head",
                "Daniel is head of science at Hillside Academy from September.",
                "work",
                importance=0.8,
            ),
        ),
        says(
            "The Accra trip changed because of flight prices: now 4 to 25 August.",
            fact(
                "daniel_accra_moved",
                "Daniel's family holiday in Accra now runs from 4 to 25 August.",
                "travel",
                "family",
            ),
        ),
        says(
            "For the flight: Kofi needs two EpiPens in the cabin bag, always.",
            how(
                "daniel_epipens",
                "When Kofi travels or goes on a school trip, pack two EpiPens in his bag.",
                "family",
                "health",
                importance=0.8,
            ),
        ),
    ),
    session(
        "daniel-06",
        DANIEL,
        "2026-09-07 21:10",
        says(
            "Dinner with the Owusus on Saturday, lovely evening.",
            event(
                "daniel_dinner_owusus",
                "Daniel and Efua had dinner with the Owusus on 5 September.",
                "family",
                "dinners",
            ),
        ),
        says(
            "Good news: blood sugar is normal again. I'm no longer strict about sugar, one "
            "dessert a week is fine.",
            pref(
                "daniel_sugar_relaxed",
                "Daniel no longer cuts out sugar completely; his blood sugar is normal again "
                "and he allows one dessert a week.",
                "diet",
                "health",
            ),
        ),
        says(
            "As head of science I run the department meeting every Monday at 15:30.",
            how(
                "daniel_dept_meeting",
                "Daniel runs the science department meeting every Monday at 15:30.",
                "work",
                "routine",
            ),
        ),
    ),
    session(
        "daniel-07",
        DANIEL,
        "2026-10-19 20:00",
        says(
            "I signed up for the Leeds 10K on 15 November!",
            fact(
                "daniel_10k",
                "Daniel is running the Leeds 10K on 15 November.",
                "running",
                "goals",
            ),
        ),
        says(
            "Ran 8 km on Saturday the 17th, slow but steady.",
            event(
                "daniel_run_oct17",
                "Daniel ran 8 km on Saturday 17 October, slowly but steadily.",
                "running",
            ),
        ),
        says(
            "Family calendar every Sunday evening, please.",
            pref(
                "daniel_calendar",
                "Daniel wants the family calendar sent every Sunday evening.",
                "family",
                "preferences",
            ),
        ),
    ),
    session(
        "daniel-08",
        DANIEL,
        "2026-11-16 19:40",
        says(
            "Did 10 km on Saturday 7 November as a last test.",
            event(
                "daniel_run_nov7",
                "Daniel ran 10 km on Saturday 7 November as a final test before the race.",
                "running",
            ),
        ),
        says(
            "Leeds 10K yesterday: 52:10!",
            event(
                "daniel_10k_result",
                "Daniel ran the Leeds 10K on 15 November in 52:10.",
                "running",
                importance=0.7,
            ),
        ),
        says(
            "Efua started night shifts this month.",
            fact(
                "daniel_efua_nights",
                "Efua, Daniel's wife, works night shifts since November.",
                "family",
            ),
        ),
    ),
]

AIKO_SESSIONS = [
    session(
        "aiko-01",
        AIKO,
        "2026-01-19 09:30",
        says(
            "I'm doing a PhD in marine biology at the University of Porto.",
            fact(
                "aiko_phd",
                "Aiko is a PhD student in marine biology at the University of Porto.",
                "work",
                importance=0.8,
            ),
        ),
        says(
            "Allergies: peanuts. And I'm lactose intolerant.",
            fact("aiko_peanuts", "Aiko is allergic to peanuts.", "health", importance=0.9),
            fact("aiko_lactose", "Aiko is lactose intolerant.", "health", "diet"),
        ),
        says(
            "My thesis has to be submitted by 30 June.",
            fact(
                "aiko_deadline",
                "Aiko's thesis deadline is 30 June.",
                "thesis",
                "dates",
                importance=0.8,
            ),
        ),
        says(
            "I live near the Ribeira in Porto.",
            fact("aiko_home", "Aiko lives in Porto, near the Ribeira.", "home"),
        ),
    ),
    session(
        "aiko-02",
        AIKO,
        "2026-02-09 08:45",
        says(
            "My supervisor is Professor Helena Costa.",
            fact(
                "aiko_supervisor",
                "Aiko's PhD supervisor is Professor Helena Costa.",
                "thesis",
                "people",
            ),
        ),
        says(
            "I like meetings in the morning, before 11:00 if possible.",
            pref(
                "aiko_mornings",
                "Aiko prefers meetings in the morning, before 11:00.",
                "work",
                "preferences",
            ),
        ),
        says(
            "Lab induction is today at 14:00.",
            event(
                "aiko_induction",
                "Aiko's lab induction was on 9 February at 14:00.",
                "work",
                importance=0.1,
            ),
        ),
        says(
            "Wednesday evenings I go trail running in Parque da Cidade.",
            fact(
                "aiko_trail",
                "Aiko goes trail running in Parque da Cidade on Wednesday evenings.",
                "running",
                "routine",
            ),
        ),
    ),
    session(
        "aiko-03",
        AIKO,
        "2026-03-23 10:00",
        says(
            "Fieldwork: seagrass sampling off Sines, 6 to 17 April.",
            fact(
                "aiko_fieldwork",
                "Aiko's fieldwork is seagrass sampling off Sines from 6 to 17 April.",
                "thesis",
                "travel",
            ),
        ),
        replies(
            "Labelling scheme for the samples: site code, ISO date, depth in metres, replicate "
            "letter.",
            how(
                "aiko_labels",
                "Aiko labels samples with the site code, the date (year first), the depth in "
                "metres and a replicate letter.",
                "thesis",
                "routine",
            ),
        ),
        says(
            "No milk in anything, I use oat milk.",
            pref(
                "aiko_dairy",
                "Aiko avoids dairy and uses oat milk instead of milk.",
                "diet",
            ),
        ),
    ),
    session(
        "aiko-04",
        AIKO,
        "2026-05-04 09:15",
        says(
            "Helena agreed an extension: thesis now due 15 September.",
            fact(
                "aiko_deadline_sep",
                "Aiko's thesis deadline moved to 15 September; her supervisor agreed an extension.",
                "thesis",
                "dates",
                importance=0.8,
            ),
        ),
        says(
            "We got 96 seagrass cores at Sines in April.",
            event(
                "aiko_cores",
                "Aiko collected 96 seagrass cores at Sines in April.",
                "thesis",
            ),
        ),
        says(
            "Trail run on Wednesday 29 April, 12 km in the park.",
            event(
                "aiko_run_apr",
                "Aiko ran 12 km of trails in Parque da Cidade on Wednesday 29 April.",
                "running",
            ),
        ),
    ),
    session(
        "aiko-05",
        AIKO,
        "2026-06-22 10:30",
        says(
            "Presented my poster in Kyoto on 15 June, then a week with my parents in Osaka.",
            event(
                "aiko_kyoto",
                "Aiko presented a poster at the marine ecology conference in Kyoto on 15 June.",
                "work",
                "travel",
            ),
            event(
                "aiko_osaka",
                "Aiko spent a week with her parents in Osaka after the conference in Kyoto.",
                "travel",
                "family",
            ),
        ),
        says(
            "Actually, put meetings in the afternoon from now on. Mornings are for writing.",
            pref(
                "aiko_afternoons",
                "Aiko now prefers meetings in the afternoon; she keeps mornings for writing.",
                "work",
                "preferences",
            ),
        ),
    ),
    session(
        "aiko-06",
        AIKO,
        "2026-08-31 09:00",
        says(
            "Deadline moved again, to 31 October: we need a second round of samples.",
            fact(
                "aiko_deadline_oct",
                "Aiko's thesis deadline moved again, to 31 October, for a second round of samples.",
                "thesis",
                "dates",
                importance=0.8,
            ),
        ),
        says(
            "I write 500 words every morning before opening email.",
            how(
                "aiko_writing",
                "Aiko writes 500 words every morning before she opens her email.",
                "thesis",
                "routine",
            ),
        ),
        says(
            "I stopped running in the park; Wednesdays I swim at the Campanhã pool instead.",
            fact(
                "aiko_swim",
                "Aiko no longer runs in Parque da Cidade; she swims at the Campanhã pool on "
                "Wednesday evenings instead.",
                "routine",
            ),
        ),
    ),
    session(
        "aiko-07",
        AIKO,
        "2026-10-30 17:00",
        says(
            "Submitted the thesis today!",
            event(
                "aiko_submitted",
                "Aiko submitted her thesis on 30 October.",
                "thesis",
                importance=0.9,
            ),
        ),
        says(
            "The viva should be in January. And I'm applying for a postdoc in Galway.",
            fact("aiko_viva", "Aiko's viva is planned for January.", "thesis", "dates"),
            fact(
                "aiko_postdoc",
                "Aiko is applying for a postdoc at the Marine Institute in Galway.",
                "work",
            ),
        ),
        says(
            "Track my reference letters in a table: who, deadline, status.",
            pref(
                "aiko_references",
                "Aiko wants her reference letters tracked in a table: referee, deadline, status.",
                "work",
                "preferences",
            ),
        ),
    ),
]

LENA_SESSIONS = [
    session(
        "lena-01",
        LENA,
        "2026-04-14 18:00",
        says(
            "I'm a freelance translator in Berlin, German and English.",
            fact(
                "lena_job",
                "Lena is a freelance translator in Berlin, from German into English.",
                "work",
            ),
        ),
        says(
            "My dad Klaus lives alone in Hamburg. He's 81.",
            fact(
                "lena_klaus",
                "Klaus, Lena's father, is 81 and lives alone in Hamburg.",
                "family",
                importance=0.7,
            ),
        ),
        says(
            "He takes 5 mg of amlodipine every morning for his blood pressure.",
            fact(
                "lena_klaus_dose",
                "Klaus, Lena's father, takes 5 mg of amlodipine every morning for his blood "
                "pressure.",
                "family",
                "health",
                importance=0.8,
            ),
        ),
        says(
            "Funny thing, I'm on amlodipine too, for the same reason.",
            fact(
                "lena_own_bp",
                "Lena takes amlodipine for her blood pressure as well.",
                "health",
                importance=0.7,
            ),
        ),
    ),
    session(
        "lena-02",
        LENA,
        "2026-05-20 20:30",
        says(
            "I take the train up to Hamburg every other Friday to see him.",
            fact(
                "lena_train_habit",
                "Lena takes the train to Hamburg every other Friday to visit her father.",
                "travel",
                "family",
            ),
        ),
        says(
            "When it's about Dad's care, please write to me in German.",
            pref(
                "lena_german",
                "Lena wants messages about her father's care written in German.",
                "preferences",
                "family",
            ),
        ),
        says(
            "Until when are the luggage lockers at Hamburg Hauptbahnhof open?",
            event(
                "lena_lockers",
                "Lena asked until when the luggage lockers at Hamburg Hauptbahnhof are open.",
                "travel",
                importance=0.1,
            ),
        ),
    ),
    session(
        "lena-03",
        LENA,
        "2026-06-05 21:15",
        says(
            "Dad saw the cardiologist at the UKE on 3 June. They doubled his dose, 10 mg now.",
            event(
                "lena_appt_june",
                "Klaus, Lena's father, saw his cardiologist at the UKE in Hamburg on 3 June.",
                "family",
                "health",
            ),
            fact(
                "lena_klaus_dose_10",
                "Klaus, Lena's father, now takes 10 mg of amlodipine every morning; his "
                "cardiologist doubled the dose.",
                "family",
                "health",
                importance=0.8,
            ),
        ),
        says(
            "His next check-up is 9 September at 10:00, same clinic.",
            fact(
                "lena_appt_sep",
                "Klaus's next cardiology check-up at the UKE is on 9 September at 10:00.",
                "family",
                "health",
            ),
        ),
        says(
            "I'm on the 14:06 ICE to Hamburg today.",
            event(
                "lena_train_jun",
                "Lena took the 14:06 ICE to Hamburg on Friday 5 June to visit her father.",
                "travel",
                "family",
            ),
        ),
    ),
    session(
        "lena-04",
        LENA,
        "2026-08-11 19:00",
        says(
            "Big decision: Dad moves into a care home in Pankow on 1 September, near me.",
            fact(
                "lena_klaus_move",
                "Klaus, Lena's father, lives in a care home in Berlin-Pankow from 1 September.",
                "family",
                importance=0.8,
            ),
        ),
        says(
            "So the Friday trains to Hamburg are over.",
            fact(
                "lena_train_stop",
                "Lena no longer takes the train to Hamburg every other Friday; her father lives "
                "nearby now.",
                "travel",
                "family",
            ),
        ),
        replies(
            "For his prescriptions: order in the pharmacy app five days before a pack runs "
            "out, then collect at the Pankow pharmacy.",
            how(
                "lena_refills",
                "Klaus's prescriptions: Lena orders refills in the pharmacy app five days before "
                "a pack runs out and collects them at the Pankow pharmacy.",
                "family",
                "health",
                "routine",
            ),
        ),
    ),
    session(
        "lena-05",
        LENA,
        "2026-10-06 18:40",
        says(
            "I visit Dad at the home on Wednesday and Sunday afternoons.",
            fact(
                "lena_visits",
                "Lena visits her father at the care home on Wednesday and Sunday afternoons.",
                "family",
                "routine",
            ),
        ),
        says(
            "His heart check-ups are at the Charité now; the next one is 14 October.",
            fact(
                "lena_appt_charite",
                "Klaus's cardiology check-ups are now at the Charité in Berlin; the next one is "
                "on 14 October.",
                "family",
                "health",
            ),
        ),
        says(
            "Work is busy: a 300-page novel to translate by 15 January.",
            fact(
                "lena_novel",
                "Lena is translating a 300-page novel, due on 15 January.",
                "work",
                importance=0.6,
            ),
        ),
        says(
            "Still freelancing, translating German to English from home in Berlin.",
            fact(
                "lena_job_again",
                "Lena works freelance from Berlin, translating between German and English.",
                "work",
            ),
        ),
    ),
    session(
        "lena-06",
        LENA,
        "2026-11-20 20:00",
        says(
            "The publisher sent the edits late, so the novel is due 31 January now.",
            fact(
                "lena_novel_moved",
                "Lena's novel translation is now due on 31 January; the publisher sent its "
                "edits late.",
                "work",
                importance=0.6,
            ),
        ),
        says(
            "English is fine for Dad's care messages from now on, my partner reads them too.",
            pref(
                "lena_english",
                "Lena now wants messages about her father's care in English, so that her "
                "partner can read them too.",
                "preferences",
                "family",
            ),
        ),
    ),
]

SESSIONS = [
    *MAYA_SESSIONS,
    *TOMAS_SESSIONS,
    *PRIYA_SESSIONS,
    *DANIEL_SESSIONS,
    *AIKO_SESSIONS,
    *LENA_SESSIONS,
]

# Updates already reviewed: (old, new, reason). Superseding them here shows the
# lineage; the other updates are left for consolidation to find.
SUPERSEDED = [
    ("maya_veg", "maya_pesc", "Maya started eating fish again"),
    ("tomas_open_oct", "tomas_open_nov", "opening date moved"),
    ("maya_knee", "maya_knee_ok", "knee recovered"),
]

LINKS = [
    ("maya_volume", "maya_marathon", LinkType.RELATED_TO),
    ("maya_longrun", "maya_marathon", LinkType.RELATED_TO),
    ("tomas_ines", "tomas_brasa", LinkType.RELATED_TO),
    ("tomas_supplier", "tomas_brasa", LinkType.RELATED_TO),
    ("tomas_octopus", "tomas_menu", LinkType.DERIVED_FROM),
    ("maya_knee_ok", "maya_knee", LinkType.NEXT_IN_TIME),
    ("priya_move_flight", "priya_home_lisbon", LinkType.RELATED_TO),
    ("daniel_epipens", "daniel_kofi_peanuts", LinkType.DERIVED_FROM),
    ("aiko_submitted", "aiko_phd", LinkType.RELATED_TO),
]

# One-off memories an agent looked at once, the day after, for the question asked
# then, and never again: they fade (MemoryBank retention) and are proposed for archiving.
FADING = {
    "maya_post_office": "Is the post office open on Saturday afternoon?",
    "tomas_flour": "How much does a cup of flour weigh?",
    "priya_parcel": "When is Priya's IKEA delivery?",
    "daniel_library": "When are Daniel's library books due?",
    "aiko_induction": "What time is Aiko's lab induction?",
    "maya_porto_trip": "When is Maya going to Porto?",
    "priya_move_flight": "Which day does Priya fly to Lisbon?",
    "lena_lockers": "Where can Lena leave her luggage in Hamburg?",
}

# Memories the agents keep recalling: (key, how many times over the last weeks, the
# question that brought them up).
RECALLED = [
    ("maya_marathon", 6, "What race is Maya training for?"),
    ("maya_fuelling", 3, "What should Maya eat during the long run?"),
    ("tomas_brasa", 5, "What is Tomás working on?"),
    ("tomas_lists", 4, "How does Tomás like his prep lists?"),
    ("priya_penicillin", 2, "Does Priya have any allergies?"),
    ("daniel_kofi_peanuts", 4, "Can Kofi have the satay at the party?"),
    ("aiko_phd", 3, "What does Aiko study?"),
    ("lena_klaus_dose_10", 3, "What dose of amlodipine does Klaus take?"),
]

# What consolidation should and must not propose on this data, by memory key. Pairs
# are (older, newer) for supersessions; the others are unordered.
DEMO_EXPECTATIONS: dict[str, list[tuple[str, str]]] = {
    # Same fact, said again (some in few shared words, some with a negation).
    "merged": [
        ("priya_penicillin", "priya_penicillin_again"),
        ("tomas_lists", "tomas_lists_third"),
        ("tomas_lists", "tomas_lists_again"),
        ("maya_units", "maya_units_again"),
        ("maya_home", "maya_home_again"),
        ("priya_home_lisbon", "priya_home_again"),
        ("priya_mornings", "priya_mornings_again"),
        ("aiko_lactose", "aiko_dairy"),
        ("lena_job", "lena_job_again"),
    ],
    # A later statement replacing an earlier one.
    "superseded": [
        ("tomas_open_nov", "tomas_open_nov9"),
        ("tomas_phone", "tomas_phone_new"),
        ("tomas_supplier", "tomas_supplier_new"),
        ("tomas_bookings_phone", "tomas_bookings_online"),
        ("maya_volume", "maya_volume_45"),
        ("maya_volume_45", "maya_volume_60"),
        ("maya_pesc", "maya_veg_again"),
        ("maya_job", "maya_job_farol"),
        ("maya_target_4h", "maya_target_350"),
        ("priya_home", "priya_home_lisbon"),
        ("priya_job", "priya_job_lumen"),
        ("priya_window", "priya_aisle"),
        ("priya_oncall", "priya_oncall_third"),
        ("priya_chennai", "priya_chennai_moved"),
        ("daniel_kofi_swim", "daniel_kofi_swim_wed"),
        ("daniel_job", "daniel_head"),
        ("daniel_accra", "daniel_accra_moved"),
        ("daniel_sugar", "daniel_sugar_relaxed"),
        ("aiko_deadline", "aiko_deadline_sep"),
        ("aiko_deadline_sep", "aiko_deadline_oct"),
        ("aiko_mornings", "aiko_afternoons"),
        ("aiko_trail", "aiko_swim"),
        ("lena_klaus", "lena_klaus_move"),
        ("lena_klaus_dose", "lena_klaus_dose_10"),
        ("lena_train_habit", "lena_train_stop"),
        ("lena_appt_sep", "lena_appt_charite"),
        ("lena_novel", "lena_novel_moved"),
        ("lena_german", "lena_english"),
    ],
    # Look-alikes: different people, pets, allergies, dates; a habit and one instance.
    "not_merged": [
        ("daniel_kofi_swim", "daniel_ama_swim"),
        ("daniel_kofi_swim_wed", "daniel_ama_swim"),
        ("tomas_cashews", "tomas_ines_shellfish"),
        ("priya_penicillin", "priya_latex"),
        ("aiko_peanuts", "aiko_lactose"),
        ("priya_cat", "priya_dog"),
        ("priya_miso_jabs", "priya_pepper_jabs"),
        ("tomas_dinner_investors", "tomas_dinner_staff"),
        ("tomas_dinner_staff", "tomas_dinner_staff_2"),
        ("daniel_dinner_anniversary", "daniel_dinner_owusus"),
        ("maya_run_apr", "maya_run_may"),
        ("maya_run_may", "maya_run_jul"),
        ("maya_run_jul", "maya_run_sep"),
        ("daniel_run_oct17", "daniel_run_nov7"),
        ("maya_sunday_habit", "maya_run_jul"),
        ("priya_parkrun", "priya_parkrun_mar"),
        ("aiko_trail", "aiko_run_apr"),
        ("maya_veg_again", "maya_chidi_veg"),
        ("maya_home", "priya_home_lisbon"),
        ("maya_veg_again", "priya_veg"),
        ("daniel_kofi_peanuts", "aiko_peanuts"),
        ("priya_aisle", "daniel_aisle"),
        ("tomas_madrid", "maya_lagos"),
        ("tomas_ines", "tomas_ines_wine"),
        ("lena_klaus_dose", "lena_own_bp"),
        ("lena_klaus_dose_10", "lena_own_bp"),
        ("lena_appt_june", "lena_appt_sep"),
        ("lena_train_habit", "lena_train_jun"),
        ("priya_cat", "priya_miso_kidney"),
    ],
    # Look-alikes and paraphrases where neither replaces the other.
    "not_superseded": [
        ("daniel_kofi_swim", "daniel_ama_swim"),
        ("daniel_ama_swim", "daniel_kofi_swim_wed"),
        ("tomas_cashews", "tomas_ines_shellfish"),
        ("priya_penicillin", "priya_latex"),
        ("priya_cat", "priya_dog"),
        ("priya_miso_jabs", "priya_pepper_jabs"),
        ("maya_veg_again", "maya_chidi_veg"),
        ("maya_units", "maya_units_again"),
        ("priya_mornings", "priya_mornings_again"),
        ("aiko_lactose", "aiko_dairy"),
        ("tomas_lists", "tomas_lists_again"),
        ("tomas_lists_again", "tomas_lists_third"),
        ("priya_penicillin", "priya_penicillin_again"),
        ("maya_home", "maya_home_again"),
        ("priya_home_lisbon", "priya_home_again"),
        ("tomas_ines", "tomas_ines_wine"),
        ("maya_sunday_habit", "maya_wfh"),
        ("lena_klaus_dose", "lena_own_bp"),
        ("lena_own_bp", "lena_klaus_dose_10"),
        ("lena_job", "lena_job_again"),
        ("maya_fuelling", "maya_taper"),
        ("maya_knee_plan", "maya_taper"),
    ],
}


def contents() -> dict[str, str]:
    """Each memory key's content as loaded (the curator's edits in demo.py aside)."""
    return {
        memory.key: memory.content
        for item in SESSIONS
        for message in item.messages
        for memory in message.memories
    }


def demo_expectations() -> dict[str, list[tuple[str, str]]]:
    """DEMO_EXPECTATIONS as pairs of contents, the way a test finds the memories."""
    text = contents()
    return {
        name: [(text[a], text[b]) for a, b in pairs] for name, pairs in DEMO_EXPECTATIONS.items()
    }
