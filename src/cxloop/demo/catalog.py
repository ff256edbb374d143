"""Fixed reference data for the demo retailer (Northwind Outfitters, UK): people, products, shops.

Everything here is made up. Phone numbers come only from Ofcom's ranges reserved for drama and
examples, so no real person can be reached through the demo data.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Isabella", "Rosie", "Sophia",
    "Grace", "Freya", "Florence", "Willow", "Evie", "Poppy", "Ella", "Elsie", "Harper", "Sienna",
    "Matilda", "Daisy", "Phoebe", "Ruby", "Alice", "Hannah", "Zara", "Aisha", "Priya", "Niamh",
    "Eilidh", "Megan", "Chloe", "Lucy", "Emily", "Sarah", "Rachel", "Fatima", "Maryam", "Chiara",
    "Noah", "Oliver", "George", "Leo", "Arthur", "Muhammad", "Harry", "Oscar", "Archie", "Henry",
    "Theodore", "Freddie", "Jack", "Charlie", "Finley", "Thomas", "Alfie", "Isaac", "Jacob",
    "Lucas", "Ethan", "Samuel", "Joshua", "Daniel", "James", "William", "Rory", "Callum", "Owen",
    "Dylan", "Ravi", "Arjun", "Omar", "Yusuf", "Tomasz", "Mateusz", "Kwame", "Tunde", "Connor",
    "Euan",
)  # fmt: skip

LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Thomas", "Clarke", "Jackson", "Wood", "Harris", "Edwards", "Turner", "Martin", "Cooper",
    "Hill", "Ward", "Hughes", "Moore", "Clark", "King", "Harrison", "Lewis", "Baker", "Lee",
    "Allen", "Morris", "Khan", "Scott", "Watson", "Davis", "Parker", "James", "Bennett", "Young",
    "Phillips", "Richardson", "Mitchell", "Bailey", "Carter", "Cook", "Singh", "Shaw", "Bell",
    "Collins", "Morgan", "Kelly", "Begum", "Campbell", "Murphy", "Macdonald", "Stewart", "Reid",
    "Fraser", "Okafor", "Mensah", "Nowak", "Kowalski", "Rossi", "Silva", "Ahmed", "Hussain",
    "Ali", "Chen", "Wong", "Nguyen", "Byrne", "Doyle",
)  # fmt: skip

# (city, relative weight, the Northwind shop there or None when the nearest one is elsewhere)
CITIES = (
    ("London", 22, "London Covent Garden"),
    ("Manchester", 9, "Manchester Arndale"),
    ("Birmingham", 8, "Birmingham Bullring"),
    ("Leeds", 6, "Leeds Briggate"),
    ("Glasgow", 6, "Glasgow Buchanan Street"),
    ("Edinburgh", 5, "Edinburgh Princes Street"),
    ("Bristol", 5, "Bristol Cabot Circus"),
    ("Cardiff", 4, "Cardiff St David's"),
    ("Liverpool", 4, "Manchester Arndale"),
    ("Sheffield", 3, "Leeds Briggate"),
    ("Nottingham", 3, "Birmingham Bullring"),
    ("Newcastle", 3, "Leeds Briggate"),
    ("Brighton", 2, "London Covent Garden"),
    ("Oxford", 2, "London Covent Garden"),
    ("York", 2, "Leeds Briggate"),
    ("Belfast", 2, "Glasgow Buchanan Street"),
    ("Aberdeen", 1, "Edinburgh Princes Street"),
    ("Exeter", 1, "Bristol Cabot Circus"),
)

STORES = tuple(dict.fromkeys(store for _, _, store in CITIES))

# (sku prefix, category, [(name, price in GBP)])
PRODUCTS = (
    ("JKT", "Jackets", [("Harbour Waxed Jacket", 149.0), ("Fell Packable Down Jacket", 119.0),
                        ("Moorland Field Coat", 189.0), ("Coastline Rain Shell", 89.0)]),
    ("KNT", "Knitwear", [("Aran Cable Jumper", 79.0), ("Merino Crew Neck", 59.0),
                         ("Lambswool Cardigan", 69.0), ("Fisherman Roll Neck", 85.0)]),
    ("SHT", "Shirts", [("Oxford Button-Down Shirt", 45.0), ("Brushed Flannel Shirt", 49.0),
                       ("Linen Camp Collar Shirt", 55.0), ("Chambray Work Shirt", 42.0)]),
    ("TRS", "Trousers", [("Stretch Chino", 49.0), ("Selvedge Straight Jeans", 89.0),
                         ("Cord Five-Pocket Trousers", 59.0), ("Trail Cargo Trousers", 65.0)]),
    ("DRS", "Dresses", [("Jersey Wrap Dress", 69.0), ("Linen Midi Dress", 79.0),
                        ("Cord Pinafore Dress", 65.0), ("Knitted Jumper Dress", 89.0)]),
    ("FTW", "Footwear", [("Leather Chelsea Boots", 139.0), ("Canvas Plimsolls", 39.0),
                         ("Waterproof Walking Boots", 129.0), ("Suede Desert Boots", 99.0)]),
    ("ACC", "Accessories", [("Lambswool Beanie", 22.0), ("Tartan Scarf", 35.0),
                            ("Leather Belt", 39.0), ("Canvas Tote Bag", 25.0)]),
    ("OUT", "Outdoor", [("Fleece Quarter Zip", 55.0), ("Softshell Gilet", 75.0),
                        ("Walking Socks 3-Pack", 18.0), ("Insulated Flask", 28.0)]),
)  # fmt: skip

# Flat product list: (product_id, sku, name, category, price)
CATALOG = tuple(
    (f"p{c * 10 + n + 101}", f"{prefix}-{n + 1:03d}", name, category, price)
    for c, (prefix, category, items) in enumerate(PRODUCTS)
    for n, (name, price) in enumerate(items)
)
CATEGORIES = tuple(category for _, category, _ in PRODUCTS)

SIZES = ("XS", "S", "M", "L", "XL")
APP_SCREENS = ("Home", "Category", "Product", "Wishlist", "Orders", "Loyalty Card", "Store Finder")
EMAIL_CAMPAIGNS = (
    "Weekly Edit", "New Season Arrivals", "Members' Early Access", "Mid-Season Sale",
    "Back in Stock", "Outdoor Essentials", "Gift Guide", "Final Reductions",
)  # fmt: skip
SOCIAL_NETWORKS = ("twitter", "instagram")

# Support contact topics and how a closed ticket was resolved
TOPICS_RESOLUTIONS = {
    "late delivery": ("courier chased", "delivery refunded", "voucher issued"),
    "sizing": ("exchange arranged", "size advice given", "return label sent"),
    "refund": ("refund confirmed", "refund expedited"),
    "damaged item": ("replacement sent", "refund issued"),
    "order status": ("tracking link sent", "order located"),
    "loyalty points": ("points added", "tier explained"),
}

SOCIAL_POSITIVE = (
    "Love my new {item} from @northwind",
    "Great service at Northwind {store} today",
    "@northwind the {item} is worth every penny",
)
SOCIAL_NEGATIVE = (
    "@northwind still waiting for my order, {days} days late",
    "@northwind my parcel is late again. Not impressed",
    "Order from @northwind arrived late, {days} days after the promised date",
)

# Ofcom numbers reserved for drama/examples: (prefix as written locally, first subscriber digit).
# Each range gives 1,000 numbers (last three digits 000-999), all "possible" numbers for GB.
FICTIONAL_PHONE_RANGES = (
    "07700 900", "01632 960", "020 7946 0", "0113 496 0", "0114 496 0", "0115 496 0",
    "0116 496 0", "0117 496 0", "0118 496 0", "0121 496 0", "0131 496 0", "0141 496 0",
    "0151 496 0", "0161 496 0", "029 2018 0", "028 9018 0", "0191 498 0",
)  # fmt: skip


def fictional_phones() -> list[str]:
    """Every reserved fictional UK number, written as people type them (local format)."""
    return [f"{prefix}{n:03d}" for prefix in FICTIONAL_PHONE_RANGES for n in range(1000)]
