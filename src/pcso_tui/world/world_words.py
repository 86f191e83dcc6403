"""Word lists for the synthetic world: company and person names, products, places, texts.

Only plain data. Every list is a tuple so its order (and therefore a seeded world) never
depends on hashing. Domains end in ``.example`` and phone numbers sit in ranges reserved for
fiction, so a demo world can never reach a real person.
"""

from __future__ import annotations

# --- accounts -------------------------------------------------------------------------------

NAME_PREFIXES = (
    "North", "South", "East", "West", "Blue", "Green", "Red", "Silver", "Gold", "Iron",
    "Stone", "Bright", "Clear", "Swift", "High", "Deep", "Sun", "Star", "Oak", "Pine",
    "Cedar", "Maple", "River", "Lake", "Sea", "Bay", "Cloud", "Summit", "Crest", "Frost",
    "Storm", "Rock", "Wolf", "Falcon", "Eagle", "Fox", "Bear", "Lion", "Amber", "Copper",
    "Birch", "Willow", "Harbour", "Glen", "Hazel", "Ash", "Elm", "Brook", "Salt", "Tide",
)  # fmt: skip

NAME_ROOTS = (
    "wind", "field", "bridge", "gate", "stone", "wood", "brook", "ridge", "vale", "port",
    "haven", "mark", "ford", "line", "well", "point", "crest", "shore", "land", "works",
    "light", "path", "way", "view", "side", "hill", "dale", "moor", "mere", "water",
    "star", "wave", "forge", "peak", "spring", "tree", "bank", "hold", "watch", "fall",
)  # fmt: skip

SURNAMES = (
    "Keller", "Stone", "Hughes", "Novak", "Larsen", "Moreau", "Rossi", "Silva", "Tanaka", "Okafor",
    "Kowalski", "Jensen", "Fischer", "Dubois", "Garcia", "Murphy", "Nakamura", "Singh", "Cohen", "Berg",
    "Walsh", "Petrov", "Costa", "Meyer", "Lindqvist", "Fernandes", "Ivanova", "Brennan", "Hartmann", "Osei",
    "Schmidt", "Bianchi", "Haddad", "Lopez", "Nielsen", "Popescu", "Yilmaz", "Andersson", "Kumar", "Mendes",
    "Kaur", "Wagner", "Doyle", "Sato", "Ahmed", "Horvath", "Varga", "Lambert", "Marsh", "Quinn",
)  # fmt: skip

FIRST_NAMES = (
    "Anna", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
    "Kira", "Liam", "Mei", "Noah", "Olga", "Pavel", "Quentin", "Rosa", "Samir", "Tara",
    "Umar", "Vera", "Wim", "Ximena", "Yusuf", "Zoe", "Amara", "Bruno", "Camille", "Dmitri",
    "Emeka", "Freya", "Gustav", "Hana", "Ivan", "Julia", "Kenji", "Lucia", "Mateo", "Nadia",
    "Oscar", "Priya", "Rafael", "Sofia", "Tomas", "Ursula", "Viktor", "Wen", "Yara", "Zain",
)  # fmt: skip

# industry → words that end a company name in it
INDUSTRIES = (
    ("Retail", ("Retail", "Stores", "Market", "Outfitters", "Trading")),
    ("Banking", ("Bank", "Capital", "Finance", "Savings", "Credit")),
    ("Insurance", ("Insurance", "Assurance", "Mutual", "Underwriters")),
    ("Healthcare", ("Health", "Clinics", "Medical", "Care", "Pharma")),
    ("Manufacturing", ("Manufacturing", "Industries", "Works", "Fabrication", "Components")),
    ("Logistics", ("Logistics", "Freight", "Shipping", "Transport", "Couriers")),
    ("Public Sector", ("Council", "Authority", "Agency", "Public Services")),
    ("Education", ("Academy", "College", "University", "Learning")),
    ("Media", ("Media", "Studios", "Publishing", "Broadcasting")),
    ("Energy", ("Energy", "Power", "Utilities", "Renewables", "Grid")),
    ("Telecom", ("Telecom", "Networks", "Communications", "Mobile")),
    ("Hospitality", ("Hotels", "Resorts", "Hospitality", "Travel")),
    ("Technology", ("Software", "Systems", "Technologies", "Labs", "Digital")),
)

# Public bodies and schools carry no legal form.
NO_LEGAL_FORM = frozenset({"Public Sector", "Education"})

# region → (legal forms, phone number pattern in a range reserved for fiction)
REGIONS = (
    ("EMEA", ("GmbH", "AG", "Ltd", "plc", "BV", "S.A.", "SAS", "AB", "Oy", "ApS"), "+44 20 7946 0{n:03d}"),
    ("North America", ("Inc.", "LLC", "Corp."), "+1 202 555 01{n2:02d}"),
    ("LATAM", ("S.A. de C.V.", "Ltda.", "S.A."), "+52 55 5555 {n:04d}"),
    ("APAC", ("Pty Ltd", "K.K.", "Pte Ltd", "Ltd"), "+61 491 570 {n:03d}"),
)
REGION_WEIGHTS = (50, 25, 8, 17)

TIERS = ("enterprise", "business", "standard")
TIER_WEIGHTS = (10, 30, 60)

INTERNAL_ACCOUNTS = (
    "Internal — Finance IT",
    "Internal — Customer Service",
    "Internal — Engineering Platform",
    "Internal — Sales Operations",
    "Internal — Security Office",
)

# --- products -------------------------------------------------------------------------------

# family → (main products, component product, versions oldest first)
PRODUCT_FAMILIES = (
    ("Ledger", ("Ledger Cloud", "Ledger Enterprise"), "Ledger Bank Connector", ("4.2", "4.3", "5.0", "5.1")),
    ("Harbor", ("Harbor Shipping", "Harbor Warehouse"), "Harbor Scanner Gateway", ("2.8", "3.0", "3.1")),
    ("Pulse", ("Pulse Analytics", "Pulse Dashboards"), "Pulse Data Agent", ("7.4", "7.5", "8.0")),
    ("Relay", ("Relay Messaging API", "Relay Notify"), "Relay SMS Bridge", ("1.9", "2.0", "2.1", "2.2")),
    ("Vault", ("Vault Documents", "Vault Archive"), "Vault Sync Client", ("11.0", "11.2", "12.0")),
    ("Atlas", ("Atlas CRM", "Atlas Service Desk"), "Atlas Mail Plug-in", ("6.1", "6.2", "6.3")),
    ("Forge", ("Forge MES", "Forge Quality"), "Forge PLC Adapter", ("3.3", "3.4", "4.0")),
    ("Nimbus", ("Nimbus Payments", "Nimbus Checkout"), "Nimbus Terminal Driver", ("9.0", "9.1", "9.2")),
)

EDITIONS = ("Standard", "Professional", "Enterprise")
DEPLOYMENTS = (("cloud", 60), ("on-prem", 25), ("hybrid", 15))
USAGE = (("light", 30), ("standard", 50), ("heavy", 20))

# --- infrastructure -------------------------------------------------------------------------

# code, city, cloud region
DATACENTRES = (
    ("fra1", "Frankfurt", "eu-central-1"),
    ("iad1", "Ashburn", "us-east-1"),
    ("ams1", "Amsterdam", "eu-west-1"),
    ("sin1", "Singapore", "ap-southeast-1"),
    ("dub1", "Dublin", "eu-west-2"),
)

# kind, name prefix, description
SHARED_SERVICES = (
    ("database", "pg", "PostgreSQL cluster"),
    ("queue", "mq", "message broker"),
    ("cache", "redis", "Redis cache"),
    ("gateway", "gw", "API gateway"),
    ("storage", "s3", "object storage"),
    ("search", "es", "search cluster"),
)

GLOBAL_SERVICES = (
    ("gateway", "identity-gateway", "single sign-on and token service for every product"),
    ("gateway", "api-edge", "public API edge: TLS, routing and rate limits"),
    ("queue", "event-bus", "the event bus every product publishes to"),
)

# --- alerts and incidents -------------------------------------------------------------------

ALERTS_BY_KIND = {
    "datacentre": (("PowerFeedDegraded", "one power feed lost; running on the redundant feed"),),
    "cluster": (
        ("KubeControlPlaneDown", "the Kubernetes API server stopped answering"),
        ("ClusterNodesNotReady", "more than a third of the nodes report NotReady"),
    ),
    "host": (
        ("HostDown", "node exporter unreachable for 2 minutes"),
        ("HostDiskFull", "root filesystem above 95 %"),
        ("HostMemoryPressure", "available memory below 5 % for 10 minutes"),
    ),
    "database": (
        ("PostgresDown", "PostgreSQL primary not accepting connections"),
        ("PostgresReplicationLag", "replica lag above 300 s"),
        ("PostgresTooManyConnections", "connections above 90 % of max_connections"),
    ),
    "queue": (
        ("BrokerUnavailable", "broker cluster lost quorum"),
        ("QueueBacklogGrowing", "backlog rising for 15 min"),
    ),
    "cache": (("RedisDown", "Redis master unreachable"), ("CacheEvictionsHigh", "evictions above 1,000/s")),
    "gateway": (("GatewayHigh5xxRate", "5xx rate above 5 % for 5 minutes"), ("GatewayLatencyHigh", "p99 above 2 s")),
    "storage": (("ObjectStoreErrors", "PUT error rate above 2 %"),),
    "search": (("SearchClusterRed", "cluster health red: unassigned primary shards"),),
    "application": (
        ("ServiceDown", "health endpoint failing from every probe location"),
        ("HighErrorRate", "HTTP 5xx above 10 % for 5 minutes"),
        ("HighLatencyP99", "p99 latency above 3 s for 10 minutes"),
        ("HealthCheckFailing", "synthetic login check failing"),
    ),
}

NOISE_ALERTS = (
    ("CertificateExpiringSoon", "TLS certificate expires in 14 days"),
    ("BackupJobSlow", "nightly backup took 40 % longer than usual"),
    ("NTPClockSkew", "clock skew above 100 ms"),
    ("DiskWillFillIn4Days", "disk usage trend reaches 100 % in 4 days"),
    ("PodRestarting", "container restarted 3 times in 30 minutes"),
    ("ConnectionPoolSaturated", "connection pool at 85 % for 10 minutes"),
)

RESOLUTIONS = (
    ("fixed", "Faulty component replaced and service restored; monitoring shows normal error rates."),
    ("rolled_back", "The morning's deployment was rolled back; errors stopped within minutes."),
    ("config_change", "A misapplied configuration change was reverted and capacity limits raised."),
    ("failover", "Traffic failed over to the standby; the primary was rebuilt afterwards."),
    ("vendor_fix", "The upstream provider fixed the fault on their side; we confirmed recovery."),
    ("restarted", "The stuck process was restarted after collecting diagnostics; root cause under review."),
)

PROGRESS_NOTES = (
    "Root cause narrowed down to {ci}; engineers are working on it.",
    "Mitigation applied on {ci}; error rates dropping, still monitoring.",
    "Failover to standby in progress for {ci}.",
    "Vendor engaged; diagnostics collected from {ci}.",
    "Capacity added; recovery is slower than expected on {ci}.",
)

STATEMENTS = (
    "We are investigating an issue affecting {product} in {city}. Some requests may fail or be slow. "
    "Next update within 60 minutes.",
    "We have identified the cause of the disruption to {product} and are applying a fix. "
    "We expect service to recover by {eta} UTC.",
    "A fix for {product} has been deployed and we are monitoring recovery. "
    "If you still see errors, please retry; no data has been lost.",
)

RESOLVED_STATEMENT = "The disruption to {product} is resolved. We apologise for the inconvenience."

REJECT_REASONS = (
    "Impact limited to non-production environments; handle as a normal proactive case.",
    "Already recovering; affected customers informed through the open cases.",
    "Duplicate of an incident already handled by the platform team.",
)

PROPOSE_REASONS = (
    "Several customers affected by the same outage; one communication for all.",
    "Customers are starting to call in; a major case lets us answer with one statement.",
    "Critical service down for multiple accounts.",
)

BUSINESS_IMPACT = (
    "Customers cannot process {product} transactions.",
    "End users of {product} see errors and timeouts.",
    "Batch jobs for {product} are delayed; deadlines at risk for some customers.",
)

WORKAROUNDS = (
    (
        "Workaround: retry failed {product} requests",
        "While the service recovers, requests that fail with HTTP 503 can be retried safely after 30 seconds. "
        "Queued jobs are kept and will run once the service is back.",
    ),
    (
        "Workaround: switch {product} to the secondary endpoint",
        "Customers on {product} can point their clients at the secondary endpoint listed in their welcome pack. "
        "Switch back once this outage is marked resolved.",
    ),
    (
        "Known issue: delayed notifications from {product}",
        "Notifications are delayed but not lost. They will be delivered in order once the backlog drains.",
    ),
)

# --- customer cases -------------------------------------------------------------------------

# family, short description (what customers write), weight over time: steady or rising
REACTIVE_TOPICS = (
    ("Atlas", "Cannot log in with single sign-on", "steady"),
    ("Ledger", "Invoice export times out", "steady"),
    ("Pulse", "Report totals do not match the source data", "steady"),
    ("Relay", "API returns 429 Too Many Requests", "steady"),
    ("Atlas", "Password reset email not received", "steady"),
    ("Vault", "Search results are slow", "steady"),
    ("Ledger", "Bank connector sync stuck after the 5.1 upgrade", "rising"),
    ("Harbor", "Label printing fails for some carriers", "steady"),
    ("Pulse", "Dashboard widgets not loading", "steady"),
    ("Relay", "Webhook deliveries delayed", "rising"),
    ("Nimbus", "Card payments declined with error 05", "steady"),
    ("Forge", "PLC adapter disconnects every night", "steady"),
    ("Vault", "Licence count shown incorrectly", "steady"),
)

CALL_IN = (
    "Our users cannot reach {product} since {time} UTC.",
    "{product} is very slow for all our staff — is something going on?",
    "We see errors in {product}; please advise urgently.",
)

CASE_RESOLUTIONS = (
    ("solved", "Solved with the customer; confirmed working."),
    ("workaround", "Workaround provided; permanent fix scheduled."),
    ("known_error", "Known error; linked to the problem record and explained to the customer."),
    ("user_error", "Configuration on the customer's side corrected together with them."),
)


# What a customer of an affected account says when they call or write in.
CALLERS_SAY = (
    "Service is down for us",
    "Cannot log in since a few minutes",
    "Payments keep failing",
    "Everything is very slow today",
    "We get error messages on every request",
    "Our users cannot reach the application",
    "Is there an outage? Nothing works",
    "Timeouts all over the place",
)
# How customers reach us, most by phone.
CALL_CHANNELS = ("phone", "phone", "phone", "email", "portal", "web")
