#!/usr/bin/env python3
"""Writes the retrieval fixture of tests/kb: documents in several formats under data/docs and
the labelled queries in data/queries.tsv (query, expected file, text the right chunk holds).

The documents describe made-up towns, incidents, products, animals, dishes and office rules,
so that no answer comes from a model's training; facts are varied so that some questions
are best answered by meaning (paraphrases) and others by exact identifiers (codes, SKUs).
Run it to regenerate; the output is deterministic and checked in. --check regenerates into
a temporary directory and fails when the checked-in files differ.
"""
import filecmp, os, random, sys, tempfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
rnd = random.Random(7)

TOWNS = [  # name, craft, river, region, feature
    ("Varnholt", "glassblowing workshops", "Esk", "north", "a covered stone bridge"),
    ("Quellbrook", "cheese made in limestone caves", "Lune", "north", "a clock tower that runs backwards"),
    ("Ostravel", "wooden violins and cellos", "Tamar", "north", "a lighthouse far from the sea"),
    ("Mirefield", "salt harvested from tidal pans", "Wyre", "coast", "wide mudflats full of wading birds"),
    ("Caddow", "hand-woven wool blankets", "Dee", "north", "sheep that graze on the old rampart"),
    ("Pellingham", "apple cider pressed each autumn", "Avon", "south", "orchards that bloom in April"),
    ("Thornwick", "forged iron horseshoes", "Ure", "north", "a blacksmith museum"),
    ("Saltmere", "smoked herring and kippers", "Ouse", "coast", "a harbour of red fishing boats"),
    ("Brackenridge", "slate roofing tiles from the quarry", "Conwy", "west", "a flooded quarry used for diving"),
    ("Elderwyn", "honey from heather moorland bees", "Nidd", "north", "hundreds of beehives on the moor"),
    ("Fenlow", "reed thatching for cottage roofs", "Nene", "east", "windmills that pump water off the fields"),
    ("Hollowmere", "paper made by hand from rags", "Kent", "west", "a water wheel older than the church"),
    ("Kestrelby", "falconry and hawk training", "Swale", "north", "a castle where birds of prey fly daily"),
    ("Larkspur Cove", "pottery glazed in deep blue", "Fal", "south", "a cove with caves reachable at low tide"),
    ("Marrowgate", "pumpkins grown for a giant vegetable show", "Trent", "east", "a market that has run since 1204"),
    ("Northmoor", "peat cut for whisky distilling", "Spey", "north", "a distillery with copper stills"),
    ("Ravensholme", "clocks and pocket watches", "Derwent", "north", "a tower with forty bells"),
    ("Stillwater", "trout farming in spring-fed ponds", "Test", "south", "chalk streams clear as glass"),
    ("Tidewell", "sea salt flavoured with seaweed", "Camel", "coast", "a tidal swimming pool in the rocks"),
    ("Underbarrow", "dry stone walling", "Lyvennet", "north", "walls that climb straight up the fells"),
    ("Wickhampton", "cricket bats carved from willow", "Waveney", "east", "willow trees planted along every lane"),
    ("Yarrowby", "lavender oil distilled in July", "Cuckmere", "south", "purple fields that attract painters"),
    ("Ashcombe", "boat building in oak", "Dart", "south", "a slipway where wooden ships are launched"),
    ("Bramblehurst", "blackberry jam and preserves", "Rother", "south", "hedgerows picked by the whole village"),
]

INCIDENTS = [  # symptom, cause, fix, service
    ("the checkout page returned blank responses", "the TLS certificate had expired at midnight",
     "renewed the certificate and added an expiry alert thirty days ahead", "storefront"),
    ("nightly backups stopped completing", "the backup disk filled up with old snapshots",
     "pruned snapshots older than ninety days and enabled retention rules", "backup"),
    ("search results were stale by several hours", "the indexing worker crashed on a malformed document",
     "skipped malformed documents and restarted the worker", "search"),
    ("login requests timed out for users in Asia", "a DNS record pointed at a retired load balancer",
     "corrected the DNS record and lowered its TTL", "auth"),
    ("memory use grew until the pods were killed", "a cache kept every session forever",
     "bounded the cache and evicted the least recently used sessions", "sessions"),
    ("emails to customers were delayed by a day", "the mail queue was throttled by the provider",
     "spread sending over the day and requested a higher quota", "mailer"),
    ("invoices showed the wrong currency symbol", "the locale table was overwritten by a migration",
     "restored the locale table from backup and fixed the migration", "billing"),
    ("the mobile app crashed on start", "a feature flag service returned an empty body",
     "made the client fall back to defaults when flags are missing", "mobile"),
    ("payments were charged twice", "a retry after a network timeout was not idempotent",
     "added idempotency keys to every payment request", "payments"),
    ("graphs on the dashboard were empty", "the metrics database ran out of file handles",
     "raised the open file limit and closed leaked connections", "metrics"),
    ("uploads larger than ten megabytes failed", "the proxy body size limit was too small",
     "raised the proxy limit to one hundred megabytes", "uploads"),
    ("the clock on one server drifted by minutes", "the time sync daemon was disabled after an update",
     "re-enabled time synchronisation and alerted on drift", "infra"),
    ("users were logged out every few minutes", "two servers used different session signing keys",
     "distributed one signing key to all servers", "auth"),
    ("reports ran for hours instead of minutes", "a missing index on the orders table",
     "added a composite index on customer and date", "reporting"),
    ("webhooks to partners were rejected", "the request signature used the wrong secret after rotation",
     "updated the partner secrets and added a rotation checklist", "integrations"),
    ("the build pipeline failed on every commit", "a compiler upgrade made warnings into errors",
     "fixed the new warnings and pinned the compiler version", "ci"),
    ("images loaded slowly in Europe", "the content delivery network cache was bypassed by a header",
     "removed the no-cache header from image responses", "cdn"),
    ("a disk on the database primary failed", "the drive reached the end of its write endurance",
     "failed over to the replica and replaced the drive", "database"),
    ("customers saw other customers' names", "a shared cache key ignored the account id",
     "added the account id to the cache key and purged the cache", "profile"),
    ("scheduled jobs ran twice each night", "two scheduler instances were active after a deploy",
     "added a leader lock so that one scheduler runs", "scheduler"),
]

PRODUCTS = [  # name, category, use, material
    ("Trailmaster folding saw", "tools", "cutting branches and small logs while camping", "carbon steel"),
    ("Brightwick lantern", "lighting", "lighting a tent for a whole night on one charge", "aluminium"),
    ("Aquaseal dry bag", "storage", "keeping clothes dry when kayaking", "coated nylon"),
    ("Summit trekking poles", "hiking", "taking weight off the knees on steep descents", "carbon fibre"),
    ("Emberlite stove", "cooking", "boiling water quickly at high altitude", "titanium"),
    ("Northstar compass", "navigation", "finding direction without a phone signal", "brass"),
    ("Cloudrest sleeping pad", "sleeping", "insulating the body from cold ground", "foam and nylon"),
    ("Ridgeback backpack", "bags", "carrying gear on multi-day hikes", "ripstop polyester"),
    ("Frostguard gloves", "clothing", "keeping fingers warm in snow", "merino wool"),
    ("Purestream water filter", "water", "making stream water safe to drink", "hollow fibre membrane"),
    ("Stormshell jacket", "clothing", "staying dry in heavy rain and wind", "waterproof membrane"),
    ("Pathfinder headlamp", "lighting", "hands-free light on night walks", "plastic"),
    ("Campfire grill grate", "cooking", "grilling food over an open fire", "stainless steel"),
    ("Snugfit wool socks", "clothing", "preventing blisters on long walks", "merino wool"),
    ("Sunshade tarp", "shelter", "shade and rain cover over a picnic", "polyester"),
    ("Bearproof food canister", "storage", "keeping food away from bears and raccoons", "polycarbonate"),
    ("Quickdry towel", "hygiene", "drying off after swimming in a lake", "microfibre"),
    ("Ropeline paracord", "tools", "tying down loads and building shelters", "nylon"),
    ("Firestarter flint", "tools", "lighting a fire when matches are wet", "ferrocerium"),
    ("Trail first aid kit", "safety", "treating cuts and sprains on the trail", "mixed"),
    ("Solar charging panel", "power", "charging a phone from sunlight", "monocrystalline silicon"),
    ("Ultralight hammock", "sleeping", "sleeping off the ground between two trees", "parachute nylon"),
    ("Gripstep microspikes", "hiking", "walking on icy paths without slipping", "stainless steel chains"),
    ("Insulated flask", "cooking", "keeping tea hot for twelve hours", "double-wall steel"),
    ("Bug shield head net", "clothing", "keeping mosquitoes away from the face", "fine mesh"),
    ("Snowshoe pair", "winter", "walking on deep powder snow", "aluminium frame"),
    ("Map case", "navigation", "protecting paper maps from rain", "clear vinyl"),
    ("Whistle and mirror set", "safety", "signalling rescuers from a distance", "plastic and glass"),
    ("Camp chair", "furniture", "sitting comfortably by the campfire", "aluminium and canvas"),
    ("Collapsible bucket", "water", "carrying water from a stream to camp", "silicone"),
]

ANIMALS = [  # name, habitat, diet, trait
    ("grey marsh vole", "reed beds beside slow rivers", "grass stems and roots", "swims well and dives to escape owls"),
    ("silver-backed hare", "open chalk downland", "herbs and clover", "can run at seventy kilometres an hour"),
    ("crested newt", "ponds without fish", "insect larvae and worms", "the male grows a jagged crest in spring"),
    ("pine marten", "old conifer forests", "squirrels, berries and eggs", "climbs trees as fast as a squirrel"),
    ("barn owl", "farmland with old barns", "voles and shrews", "hunts by sound alone in complete darkness"),
    ("common seal", "sandbanks in estuaries", "flatfish and sand eels", "rests on banks at low tide"),
    ("red kite", "wooded valleys", "carrion and earthworms", "was saved from extinction by reintroduction"),
    ("water shrew", "clean fast streams", "freshwater shrimps", "has venomous saliva"),
    ("natterjack toad", "coastal sand dunes", "beetles and ants", "runs instead of hopping"),
    ("hazel dormouse", "hedgerows and coppiced woods", "hazelnuts and flowers", "sleeps for up to seven months in winter"),
    ("otter", "rivers with wooded banks", "fish and crayfish", "marks its territory with spraint on rocks"),
    ("stag beetle", "dead wood in gardens", "sap as an adult", "spends up to six years as a larva underground"),
    ("swift", "towns with old roofs", "flying insects", "eats, drinks and sleeps while flying"),
    ("adder", "heathland", "lizards and small mammals", "is the only venomous snake in the region"),
    ("puffin", "sea cliffs with burrows", "small fish", "carries a dozen fish crosswise in its beak"),
    ("badger", "woodland edges", "earthworms", "lives in setts used for centuries"),
    ("kingfisher", "slow clear rivers", "small fish", "dives from a perch and nests in bank tunnels"),
    ("red squirrel", "pine forests", "pine seeds", "buries food stores and forgets many of them"),
    ("grass snake", "ponds and meadows", "frogs", "plays dead when threatened"),
    ("brown long-eared bat", "old trees and attics", "moths", "has ears almost as long as its body"),
]

DISHES = [  # name, main, method, origin note
    ("harvest barley stew", "pearl barley and root vegetables", "simmer slowly for two hours", "served at the end of the grain harvest"),
    ("smoked mackerel pate", "smoked mackerel and cream cheese", "blend and chill overnight", "a quick fishermen's lunch"),
    ("nettle soup", "young nettle tops and potatoes", "blanch the nettles to remove the sting", "made in early spring"),
    ("oat griddle cakes", "rolled oats and buttermilk", "cook on a hot iron griddle", "baked when ovens were rare"),
    ("rabbit and mustard pie", "rabbit legs and grainy mustard", "bake under a suet crust", "a winter country supper"),
    ("elderflower cordial", "elderflower heads and lemon", "steep for two days then strain", "bottled in June"),
    ("potted shrimps", "brown shrimps and spiced butter", "seal under clarified butter", "from the northern sands"),
    ("cherry clafoutis", "dark cherries and batter", "bake until just set", "a summer orchard dessert"),
    ("leek and cheese tart", "leeks and hard cheese", "blind bake the pastry first", "a market day lunch"),
    ("spiced apple chutney", "cooking apples and raisins", "reduce with vinegar and sugar", "keeps for a year in jars"),
    ("mussels in cider", "fresh mussels and dry cider", "steam until the shells open", "a coastal favourite"),
    ("beef and ale stew", "braising beef and dark ale", "cook in a low oven for three hours", "pub food for cold nights"),
    ("wild garlic pesto", "wild garlic leaves and walnuts", "pound in a mortar", "foraged in damp woods in April"),
    ("treacle tart", "golden syrup and breadcrumbs", "bake in shortcrust pastry", "a school dinner classic"),
    ("crab cakes", "white crab meat and potato", "fry until golden", "sold at harbour stalls"),
    ("plum crumble", "ripe plums and oat topping", "bake until the juices bubble", "made when plums glut in August"),
]

POLICY = [  # title, text
    ("Travel reimbursement", "Employees travelling for work book trains in standard class and hotels under the city rate. Receipts are uploaded within thirty days; claims later than that need a manager's approval. Meals are reimbursed up to a daily allowance, alcohol excluded."),
    ("Annual leave", "Full-time staff receive twenty-eight days of paid holiday a year including public holidays. Up to five unused days may be carried into the next year. Requests longer than two weeks should be made two months ahead."),
    ("Security badges", "Badges must be worn visibly inside the building. A lost badge is reported to reception the same day so that it can be disabled. Visitors are signed in and escorted at all times."),
    ("Remote work", "Staff may work from home up to three days a week with their team's agreement. Home equipment such as a chair or monitor can be claimed once every three years. Confidential papers are never printed at home."),
    ("Parental leave", "Parents are entitled to twenty-six weeks of leave at full pay after the birth or adoption of a child, which can be shared between both parents. Keeping-in-touch days are optional."),
    ("Expense cards", "Company cards are for business costs only. Personal purchases made by mistake are repaid within a week. Card statements are reconciled at the end of each month."),
    ("Password rules", "Passwords are at least fourteen characters long and are never reused across systems. A password manager is provided. Two-factor authentication is required for email and source code."),
    ("Sick leave", "Staff who are ill tell their manager before ten in the morning. A doctor's note is needed after seven days. Sick pay is full salary for the first twelve weeks."),
    ("Training budget", "Each employee has a training budget of one thousand pounds a year for courses, books and conferences. Unused budget does not roll over."),
    ("Fire safety", "The fire alarm is tested every Wednesday at eleven. In a real alarm, leave by the nearest exit and gather at the car park assembly point. Do not use the lifts."),
    ("Data retention", "Customer records are deleted six years after the end of the contract. Logs are kept for ninety days. Backups are encrypted and stored in two regions."),
    ("Gifts and hospitality", "Gifts from suppliers worth more than fifty pounds are declined or declared in the gifts register. Hospitality must not influence purchasing decisions."),
]

def code(prefix, i, salt):
    return f"{prefix}-{(i * 7919 + salt) % 9000 + 1000}"

def write(path, text):
    full = os.path.join(OUT, "docs", path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)

def towns(queries):
    # html: one page per region, one <h2> section per town with two paragraphs
    by_region = {}
    for t in TOWNS:
        by_region.setdefault(t[3], []).append(t)
    for region, ts in by_region.items():
        parts = [f"<html><head><title>Towns of the {region}</title><style>h2{{color:red}}</style>"
                 f"<script>var x = 'not visible';</script></head><body><h1>Towns of the {region}</h1>"]
        for i, (name, craft, river, _, feature) in enumerate(ts):
            pc = code("PC", i + len(name), 31)
            founded = 900 + (len(name) * 53 + i * 17) % 800
            parts.append(f"<h2>{name}</h2><p>{name} lies on the River {river} and was first recorded "
                         f"in {founded}. The town is known across the country for {craft}; visitors "
                         f"come to see {feature}.</p><p>Postal district {pc}. The weekly market is held "
                         f"on {rnd.choice(['Monday','Tuesday','Thursday','Saturday'])} &amp; the "
                         f"town council meets monthly.</p>")
            queries.append((f"postal district {pc}", f"towns/{region}.html", name))
        parts.append("</body></html>\n")
        write(f"towns/{region}.html", "\n".join(parts))
    sem = {
        "Varnholt": "where can I watch people blowing glass", "Quellbrook": "cheese aged underground in caves",
        "Ostravel": "town that makes string instruments", "Mirefield": "where is salt collected from the tide",
        "Pellingham": "a place famous for pressing apples into cider", "Saltmere": "smoked fish town with a harbour",
        "Elderwyn": "bees making honey on the moors", "Fenlow": "thatched roofs made of reeds",
        "Kestrelby": "training hawks and falcons", "Northmoor": "peat used for making whisky",
        "Ravensholme": "watchmaking and clockmakers", "Stillwater": "fish farms fed by springs",
        "Wickhampton": "making bats for cricket from willow wood", "Yarrowby": "fields of purple flowers distilled into oil",
        "Ashcombe": "building wooden boats", "Bramblehurst": "jam made from wild berries",
    }
    for t in TOWNS:
        if t[0] in sem:
            queries.append((sem[t[0]], f"towns/{t[3]}.html", t[0]))

def incidents(queries):
    paras = ["Incident log of the operations team. Each entry names the error code, what users saw, the cause and the fix.\n"]
    for i, (symptom, cause, fix, svc) in enumerate(INCIDENTS):
        ec = code("ERR", i, 4242)
        paras.append(f"Incident {ec} in the {svc} service: {symptom}. Root cause: {cause}. "
                     f"Resolution: the on-call engineer {fix}.\n")
        queries.append((ec, "ops/incidents.txt", ec))
    write("ops/incidents.txt", "\n".join(paras))
    sem = [(0, "outage caused by an expired certificate"), (1, "backups failing because storage was full"),
           (4, "out of memory because sessions were cached forever"), (8, "customers billed two times"),
           (12, "people keep getting signed out"), (13, "slow queries fixed by adding an index"),
           (18, "privacy leak showing data of the wrong account"), (19, "cron jobs executing twice")]
    for i, q in sem:
        queries.append((q, "ops/incidents.txt", code("ERR", i, 4242)))

def products(queries):
    rows = ["sku,name,category,material,use,price"]
    for i, (name, cat, use, mat) in enumerate(PRODUCTS):
        sku = code("SKU", i, 777)
        price = f"{10 + (i * 37) % 190}.{(i * 13) % 100:02d}"
        use_q = f'"{use}"' if "," in use else use
        rows.append(f"{sku},{name},{cat},{mat},{use_q},{price}")
        queries.append((sku, "shop/catalogue.csv", name))
    write("shop/catalogue.csv", "\n".join(rows) + "\n")
    sem = [(9, "how do I make river water drinkable"), (15, "protect my food from bears"),
           (22, "walking on ice without falling"), (20, "charge my phone with the sun"),
           (4, "boil water on a mountain"), (27, "signal for rescue if lost")]
    for i, q in sem:
        queries.append((q, "shop/catalogue.csv", PRODUCTS[i][0]))

def animals(queries):
    parts = ["<!DOCTYPE html><html><body><h1>Wildlife of the valley</h1>"
             "<!-- survey notes: not visible --><nav>Home | Birds | Mammals</nav>"]
    for i, (name, habitat, diet, trait) in enumerate(ANIMALS):
        sid = code("SURV", i, 99)
        parts.append(f"<h2>{name.title()}</h2><p>The {name} lives in {habitat} and feeds on {diet}. "
                     f"Remarkably, it {trait}.</p><p>Survey record {sid}.</p>")
        queries.append((f"survey record {sid}", "wildlife/valley.html", name))
    parts.append("</body></html>\n")
    write("wildlife/valley.html", "\n".join(parts))
    sem = [(3, "a predator that chases squirrels up trees"), (4, "bird that hunts in the dark by hearing"),
           (8, "toad that runs rather than jumps"), (9, "animal that hibernates for more than half the year"),
           (12, "bird that sleeps on the wing"), (13, "the only poisonous snake"),
           (18, "snake that pretends to be dead")]
    for i, q in sem:
        queries.append((q, "wildlife/valley.html", ANIMALS[i][0].title()))

def recipes(queries):
    lines = ["# Country recipes\n", "Traditional dishes collected from village kitchens.\n"]
    for i, (name, main, method, note) in enumerate(DISHES):
        rid = code("RCP", i, 5)
        lines.append(f"## {name.capitalize()}\n")
        lines.append(f"Recipe {rid}. The main ingredients are {main}. Method: {method}. "
                     f"Traditionally {note}.\n")
        lines.append(f"Serves {2 + i % 5}. Preparation takes about {15 + (i * 10) % 60} minutes "
                     f"before cooking.\n")
        queries.append((f"recipe {rid}", "kitchen/recipes.md", name.capitalize()))
    write("kitchen/recipes.md", "\n".join(lines))
    sem = [(2, "soup from stinging plants"), (5, "a drink made from flowers in June"),
           (10, "shellfish steamed in apple drink"), (12, "sauce from leaves foraged in the woods")]
    for i, q in sem:
        queries.append((q, "kitchen/recipes.md", DISHES[i][0].capitalize()))

def pdf_escape(s):
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

def make_pdf(pages):
    """A minimal PDF: one page per entry, each a list of text lines in Helvetica."""
    objs = ["<< /Type /Catalog /Pages 2 0 R >>", None,
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for lines in pages:
        body = "BT /F1 11 Tf 14 TL 50 780 Td " + " ".join(f"({pdf_escape(l)}) '" for l in lines) + " ET"
        objs.append(f"<< /Length {len(body)} >>\nstream\n{body}\nendstream")
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] "
                    f"/Resources << /Font << /F1 3 0 R >> >> /Contents {len(objs)} 0 R >>")
        kids.append(len(objs))
    objs[1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>"
    out, offs = "%PDF-1.4\n", []
    for i, o in enumerate(objs):
        offs.append(len(out.encode("latin-1")))
        out += f"{i + 1} 0 obj\n{o}\nendobj\n"
    xref = len(out.encode("latin-1"))
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n"
    out += "".join(f"{o:010d} 00000 n \n" for o in offs)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return out.encode("latin-1")

def wrap(text, width=80):
    words, lines, cur = text.split(), [], ""
    for w in words:
        if len(cur) + len(w) + 1 > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    return lines + [cur]

def policy(queries):
    pages = []
    for i, (title, text) in enumerate(POLICY):
        pid = code("POL", i, 64)
        pages.append([f"Section {i + 1}: {title}", f"Policy {pid}", ""] + wrap(text))
        queries.append((f"policy {pid}", "hr/handbook.pdf", title))
    path = os.path.join(OUT, "docs", "hr", "handbook.pdf")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(make_pdf(pages))
    sem = [(1, "how many vacation days do I get"), (3, "working from home rules"),
           (4, "time off after having a baby"), (6, "how long must my password be"),
           (9, "what to do when the fire alarm rings"), (11, "can I accept presents from suppliers")]
    for i, q in sem:
        queries.append((q, "hr/handbook.pdf", POLICY[i][0]))

SERVICES = [  # name, what it does, restart note
    ("storefront", "serves the shop web pages", "drain the load balancer before restarting"),
    ("auth", "checks passwords and issues session tokens", "restart one node at a time"),
    ("search", "answers product search queries", "rebuild the index if restarts do not help"),
    ("billing", "creates invoices at the end of each month", "never restart during the invoice run"),
    ("mailer", "sends order confirmations by email", "pause the queue first"),
    ("payments", "talks to the card processor", "page the payments team before any change"),
    ("metrics", "stores time series for dashboards", "check free disk before restarting"),
    ("uploads", "receives customer files and scans them for viruses", "wait for scans in flight"),
    ("scheduler", "runs nightly batch jobs", "make sure only one instance holds the lock"),
    ("database", "the primary relational database", "fail over to the replica instead of restarting"),
    ("cdn", "caches images and scripts near users", "purge the cache after config changes"),
    ("reporting", "builds sales reports for managers", "restarts cancel running reports"),
    ("integrations", "delivers webhooks to partners", "replay failed deliveries afterwards"),
    ("profile", "stores user names and addresses", "flush the profile cache after restarting"),
    ("mobile", "backend for the phone app", "keep the old version running during rollout"),
    ("sessions", "keeps logged-in sessions in memory", "users stay logged in across restarts"),
]

def runbook(queries):
    lines = ["# Operations runbook\n", "How to look after each service.\n"]
    for i, (name, what, note) in enumerate(SERVICES):
        rb = code("RB", i, 3131)
        lines.append(f"## Service {name}\n")
        lines.append(f"The {name} service {what}. Runbook entry {rb}.\n")
        lines.append(f"Restarting: {note}. Owners are listed on the team page; dashboards live "
                     f"under the {name} folder.\n")
        queries.append((f"runbook {rb}", "ops/runbook.md", f"Runbook entry {rb}"))
    write("ops/runbook.md", "\n".join(lines))
    sem = [(3, "which service makes the monthly invoices"), (7, "virus scanning of uploaded files"),
           (12, "resending failed webhook calls")]
    for i, q in sem:
        queries.append((q, "ops/runbook.md", f"The {SERVICES[i][0]} service"))

PORTS = ["Harwick", "Lowenstoft", "Pennar", "Castlebay", "Oban", "Kirkwall", "Stromness",
         "Brodick", "Tarbert", "Mallaig", "Armadale", "Craignure", "Lochboisdale", "Uig"]
VESSELS = ["Morning Star", "Sea Lark", "Island Pride", "Northern Light", "Grey Heron",
           "Silver Tide", "Clan Rover", "Wave Runner"]

def ferries(queries):
    paras = ["Ferry timetable for the summer season. Times are local; tickets are sold on board.\n"]
    for i in range(40):
        a, b = PORTS[i % len(PORTS)], PORTS[(i * 5 + 3) % len(PORTS)]
        if a == b:
            b = PORTS[(i + 1) % len(PORTS)]
        v = VESSELS[i % len(VESSELS)]
        route = code("RT", i, 17)
        paras.append(f"Route {route}: the {v} sails from {a} to {b} at {6 + i % 12:02d}:{(i * 25) % 60:02d}. "
                     f"The crossing takes {35 + (i * 11) % 120} minutes and "
                     f"{'carries cars' if i % 3 else 'takes foot passengers only'}.\n")
        if i % 4 == 0:
            queries.append((f"route {route}", "transport/ferries.txt", f"Route {route}"))
    write("transport/ferries.txt", "\n".join(paras))

def main():
    global OUT
    if sys.argv[1:] == ["--check"]:
        real, OUT = OUT, tempfile.mkdtemp(prefix="cove-kb-data-")
        generate()
        bad = []
        for root, _, files in os.walk(OUT):
            for f in files:
                rel = os.path.relpath(os.path.join(root, f), OUT)
                if not os.path.exists(os.path.join(real, rel)) or \
                        not filecmp.cmp(os.path.join(OUT, rel), os.path.join(real, rel), shallow=False):
                    bad.append(rel)
        print("differs: " + ", ".join(bad) if bad else "data is current")
        return 1 if bad else 0
    generate()
    return 0


def generate():
    queries = []
    for gen in (towns, incidents, products, animals, recipes, policy, runbook, ferries):
        gen(queries)
    with open(os.path.join(OUT, "queries.tsv"), "w", encoding="utf-8") as f:
        f.write("# query\tfile under docs/\ttext the relevant chunk contains\n")
        for q, path, marker in queries:
            f.write(f"{q}\t{path}\t{marker}\n")
    print(f"{len(queries)} queries", file=sys.stderr)

if __name__ == "__main__":
    sys.exit(main())
