/// Every difference between the SQL the ledger speaks to SQLite and to PostgreSQL, in one place.
///
/// Statements everywhere else are written once, with `?` placeholders (PostgreSQL's connection turns them
/// into `$n`) and SQL both backends read alike. What cannot be written alike is here: the schema and its
/// migrations, upserts, JSON inside audit payloads, and columns read beside an aggregate.
enum SQLDialect: Sendable {
    case sqlite
    case postgres

    /// The schema steps, each with the version it brings the database to, oldest first.
    var migrations: [(version: Int64, sql: String)] {
        switch self {
        case .sqlite: return SQLiteSchema.migrations.enumerated().map { (Int64($0.offset + 1), $0.element) }
        case .postgres: return PostgresSchema.migrations
        }
    }

    /// Sets the audit head (`audit_head` in `meta`) to the one parameter.
    var upsertAuditHead: String {
        switch self {
        case .sqlite: return "INSERT OR REPLACE INTO meta(key, value) VALUES ('audit_head', ?)"
        case .postgres:
            return
                "INSERT INTO meta(key, value) VALUES ('audit_head', ?) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
        }
    }

    /// Starts (or restarts, over an expired record) an idempotency record; parameters agent, key, tool,
    /// args_digest, owner, created_ms, expires_ms.
    var upsertIdempotency: String {
        let insert = """
            INTO idempotency(agent, key, tool, args_digest, state, result, owner, created_ms, expires_ms)
            VALUES (?, ?, ?, ?, 'in_progress', NULL, ?, ?, ?)
            """
        switch self {
        case .sqlite: return "INSERT OR REPLACE " + insert
        case .postgres:
            return "INSERT " + insert + """

                 ON CONFLICT (agent, key) DO UPDATE SET tool = EXCLUDED.tool, args_digest = EXCLUDED.args_digest,
                    state = EXCLUDED.state, result = NULL, owner = EXCLUDED.owner, created_ms = EXCLUDED.created_ms,
                    expires_ms = EXCLUDED.expires_ms
                """
        }
    }

    /// A column read beside an aggregate, when every row of the group has the same value. SQLite takes the
    /// bare column; PostgreSQL requires an aggregate.
    func grouped(_ column: String) -> String {
        switch self {
        case .sqlite: return column
        case .postgres: return "MIN(\(column))"
        }
    }

    /// A field of an audit record's JSON payload as text, NULL when the payload is not JSON or lacks it.
    /// `field` is a constant name (letters, digits, `_`), never input.
    func auditField(_ field: String, of payload: String = "payload") -> String {
        switch self {
        case .sqlite: return "json_extract(\(payload), '$.\(field)')"
        case .postgres: return "(purser_json(\(payload)) ->> '\(field)')"
        }
    }

    /// True when the payload is valid JSON.
    func auditValid(_ payload: String = "payload") -> String {
        switch self {
        case .sqlite: return "json_valid(\(payload))"
        case .postgres: return "(purser_json(\(payload)) IS NOT NULL)"
        }
    }

    /// The values of an integer field of the audit payloads (records without one, or with another type,
    /// are left out), ascending.
    func auditIntegers(_ field: String) -> String {
        switch self {
        case .sqlite:
            return """
                SELECT json_extract(payload, '$.\(field)') AS latency FROM audit
                WHERE json_valid(payload) AND typeof(latency) = 'integer' ORDER BY latency
                """
        case .postgres:
            // SQLite's JSON reads an integer as `integer` only when it fits 64 bits and has no fraction or
            // exponent: the same test, spelt as a pattern.
            return """
                SELECT CAST(v AS BIGINT) AS latency FROM (
                    SELECT purser_json(payload) -> '\(field)' AS j, purser_json(payload) ->> '\(field)' AS v FROM audit
                ) f
                WHERE jsonb_typeof(j) = 'number' AND v ~ '^-?[0-9]{1,18}$' ORDER BY latency
                """
        }
    }
}

/// The amount a reservation counts, in one place: every gate, `Ledger.sessionTotals`, the derived totals'
/// triggers, the plans' usage, `verify` and the report read it from here.
///
/// Released reservations count nothing (callers filter `state != 'released'`). A committed one counts its
/// settled amount, or its full amount when a committed row has none (an imported or hand-edited row: fail
/// closed, never as zero); every other state (reserved, in doubt, contradicted) its full amount, as held.
/// `row` is a table alias with its dot (`"r."`), a trigger's `"NEW."`/`"OLD."`, or empty.
enum CountedAmount {
    /// What a committed reservation counts as spent (0 for a held one).
    static func settled(_ row: String = "") -> String {
        "CASE WHEN \(row)state = 'committed' THEN COALESCE(\(row)settled_amount, \(row)amount) ELSE 0 END"
    }

    /// What a reservation not yet settled or released holds (0 for a committed one).
    static func held(_ row: String = "") -> String {
        "CASE WHEN \(row)state = 'committed' THEN 0 ELSE \(row)amount END"
    }

    /// 1 for a reservation still in flight (not committed), else 0: the gates' "in flight" counts.
    static func heldPayment(_ row: String = "") -> String {
        "CASE WHEN \(row)state = 'committed' THEN 0 ELSE 1 END"
    }

    /// Everything a reservation (not released) counts: settled or held.
    static func used(_ row: String = "") -> String {
        "CASE WHEN \(row)state = 'committed' THEN COALESCE(\(row)settled_amount, \(row)amount) ELSE \(row)amount END"
    }
}

/// The SQLite schema, one step per version (the index + 1), exactly as earlier builds wrote it.
enum SQLiteSchema {
    static let migrations: [String] = [
        """
        CREATE TABLE sessions(
            id TEXT PRIMARY KEY, agent TEXT NOT NULL, asset TEXT NOT NULL, decimals INTEGER NOT NULL,
            cap INTEGER NOT NULL CHECK (cap >= 0),
            per_call_cap INTEGER CHECK (per_call_cap IS NULL OR per_call_cap >= 0),
            created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('active', 'revoked')), revoked_ms INTEGER) STRICT;
        CREATE INDEX sessions_agent ON sessions(agent, asset, status);
        CREATE TABLE reservations(
            id TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id),
            agent TEXT NOT NULL, tool TEXT NOT NULL, payee TEXT NOT NULL, network TEXT NOT NULL,
            asset TEXT NOT NULL, amount INTEGER NOT NULL CHECK (amount > 0),
            state TEXT NOT NULL CHECK (state IN ('reserved', 'in_doubt', 'committed', 'released')),
            purpose TEXT NOT NULL, args_digest TEXT NOT NULL, owner TEXT NOT NULL,
            created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, valid_before INTEGER,
            settled_amount INTEGER CHECK (settled_amount IS NULL OR settled_amount >= 0),
            tx_hash TEXT, payer TEXT, release_reason TEXT) STRICT;
        CREATE INDEX reservations_session ON reservations(session_id, tool) WHERE state != 'released';
        CREATE INDEX reservations_window ON reservations(agent, asset, created_ms) WHERE state != 'released';
        CREATE INDEX reservations_held ON reservations(state) WHERE state IN ('reserved', 'in_doubt');
        CREATE TABLE idempotency(
            agent TEXT NOT NULL, key TEXT NOT NULL, args_digest TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('in_progress', 'completed')), result TEXT, owner TEXT NOT NULL,
            created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, PRIMARY KEY (agent, key)) STRICT;
        CREATE TABLE audit(
            seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
            prev_hash TEXT NOT NULL, hash TEXT NOT NULL) STRICT;
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
        """,
        """
        CREATE TABLE approvals(
            id TEXT PRIMARY KEY, agent TEXT NOT NULL, tool TEXT NOT NULL, args_digest TEXT NOT NULL,
            amount INTEGER NOT NULL CHECK (amount > 0), asset TEXT NOT NULL, payee TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'redeemed')),
            created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, redeemed_ms INTEGER) STRICT;
        """,
        // Idempotency records are bound to the tool. Records written before this column existed get the
        // empty name, which matches no tool: they answer `conflict`, never a replay.
        """
        ALTER TABLE idempotency ADD COLUMN tool TEXT NOT NULL DEFAULT '';
        """,
        // 4: settlement evidence. A signed payment leaves the held states only with evidence, so the state
        // set gains `contradicted`, a committed payment says how it was established, and what was signed
        // (nonce, authorizer, token, payment id) is kept to look it up on chain. SQLite cannot change a
        // CHECK constraint in place: the table is rebuilt. Old commits were the seller's word: `claimed`.
        """
        CREATE TABLE reservations_v3(
            id TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id),
            agent TEXT NOT NULL, tool TEXT NOT NULL, payee TEXT NOT NULL, network TEXT NOT NULL,
            asset TEXT NOT NULL, amount INTEGER NOT NULL CHECK (amount > 0),
            state TEXT NOT NULL CHECK (state IN ('reserved', 'in_doubt', 'committed', 'contradicted', 'released')),
            purpose TEXT NOT NULL, args_digest TEXT NOT NULL, owner TEXT NOT NULL,
            created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, valid_before INTEGER,
            settled_amount INTEGER CHECK (settled_amount IS NULL OR settled_amount >= 0),
            tx_hash TEXT, payer TEXT, release_reason TEXT,
            evidence TEXT CHECK (evidence IS NULL OR evidence IN ('verified', 'claimed', 'user')),
            nonce TEXT, authorizer TEXT, token TEXT, payment_id TEXT, note TEXT,
            CHECK ((state = 'committed') = (evidence IS NOT NULL))) STRICT;
        INSERT INTO reservations_v3 SELECT id, session_id, agent, tool, payee, network, asset, amount, state,
            purpose, args_digest, owner, created_ms, updated_ms, valid_before, settled_amount, tx_hash, payer,
            release_reason, CASE WHEN state = 'committed' THEN 'claimed' END, NULL, NULL, NULL, NULL, NULL
            FROM reservations;
        DROP TABLE reservations;
        ALTER TABLE reservations_v3 RENAME TO reservations;
        CREATE INDEX reservations_session ON reservations(session_id, tool) WHERE state != 'released';
        CREATE INDEX reservations_window ON reservations(agent, asset, created_ms) WHERE state != 'released';
        CREATE INDEX reservations_held ON reservations(state) WHERE state IN ('reserved', 'in_doubt', 'contradicted');
        CREATE INDEX reservations_claimed ON reservations(evidence) WHERE evidence = 'claimed';
        """,
        // 5: change detection reads a tool's settled payments on every paid call (`paymentHistory(tool:)`).
        """
        CREATE INDEX reservations_paid_by_tool ON reservations(tool) WHERE state = 'committed';
        """,
        // 6: spend plans (Ledger+Plans.swift): a session may require one, plans and their steps, and which
        // reservations were plan steps.
        """
        ALTER TABLE sessions ADD COLUMN require_plan INTEGER NOT NULL DEFAULT 0 CHECK (require_plan IN (0, 1));
        CREATE TABLE plans(
            id TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id), agent TEXT NOT NULL,
            asset TEXT NOT NULL, total INTEGER NOT NULL CHECK (total > 0),
            state TEXT NOT NULL CHECK (state IN ('proposed', 'approved', 'closed')),
            outcome TEXT CHECK (outcome IS NULL OR outcome IN ('done', 'failed', 'declined', 'expired')),
            args_digest TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,
            lifetime_ms INTEGER NOT NULL CHECK (lifetime_ms > 0), approved_ms INTEGER, approved_by TEXT,
            closed_ms INTEGER, CHECK ((state = 'closed') = (outcome IS NOT NULL))) STRICT;
        CREATE INDEX plans_open ON plans(session_id) WHERE state != 'closed';
        CREATE TABLE plan_steps(
            plan_id TEXT NOT NULL REFERENCES plans(id), position INTEGER NOT NULL, tool TEXT NOT NULL,
            purpose TEXT NOT NULL, max_amount INTEGER NOT NULL CHECK (max_amount > 0),
            count INTEGER NOT NULL CHECK (count > 0), PRIMARY KEY (plan_id, tool)) STRICT;
        CREATE TABLE plan_payments(
            reservation_id TEXT PRIMARY KEY REFERENCES reservations(id),
            plan_id TEXT NOT NULL REFERENCES plans(id)) STRICT;
        CREATE INDEX plan_payments_plan ON plan_payments(plan_id);
        """,
        // 7: totals derived from the reservations and kept by triggers (DerivedTotals.swift), so a paid call's
        // gates, session facts and change detection read a few rows instead of the session's every payment.
        DerivedTotals.sqliteMigration,
    ]
}

/// The PostgreSQL schema. A new database starts at version 5, the SQLite schema's shape at that version
/// (integers are `BIGINT`: PostgreSQL's `INTEGER` is 32 bits; text compares byte-wise, `COLLATE "C"`, as
/// in SQLite); later versions add steps here and in `SQLiteSchema` alike, the same tables, columns,
/// constraints and indexes in each.
enum PostgresSchema {
    private static let text = "TEXT COLLATE \"C\""

    static let migrations: [(version: Int64, sql: String)] = [
        (
            5,
            """
            CREATE TABLE sessions(
                id \(text) PRIMARY KEY, agent \(text) NOT NULL, asset \(text) NOT NULL, decimals BIGINT NOT NULL,
                cap BIGINT NOT NULL CHECK (cap >= 0),
                per_call_cap BIGINT CHECK (per_call_cap IS NULL OR per_call_cap >= 0),
                created_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL,
                status \(text) NOT NULL CHECK (status IN ('active', 'revoked')), revoked_ms BIGINT);
            CREATE INDEX sessions_agent ON sessions(agent, asset, status);
            CREATE TABLE reservations(
                id \(text) PRIMARY KEY, session_id \(text) NOT NULL REFERENCES sessions(id),
                agent \(text) NOT NULL, tool \(text) NOT NULL, payee \(text) NOT NULL, network \(text) NOT NULL,
                asset \(text) NOT NULL, amount BIGINT NOT NULL CHECK (amount > 0),
                state \(text) NOT NULL
                    CHECK (state IN ('reserved', 'in_doubt', 'committed', 'contradicted', 'released')),
                purpose \(text) NOT NULL, args_digest \(text) NOT NULL, owner \(text) NOT NULL,
                created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL, valid_before BIGINT,
                settled_amount BIGINT CHECK (settled_amount IS NULL OR settled_amount >= 0),
                tx_hash \(text), payer \(text), release_reason \(text),
                evidence \(text) CHECK (evidence IS NULL OR evidence IN ('verified', 'claimed', 'user')),
                nonce \(text), authorizer \(text), token \(text), payment_id \(text), note \(text),
                CHECK ((state = 'committed') = (evidence IS NOT NULL)));
            CREATE INDEX reservations_session ON reservations(session_id, tool) WHERE state != 'released';
            CREATE INDEX reservations_window ON reservations(agent, asset, created_ms) WHERE state != 'released';
            CREATE INDEX reservations_held ON reservations(state)
                WHERE state IN ('reserved', 'in_doubt', 'contradicted');
            CREATE INDEX reservations_claimed ON reservations(evidence) WHERE evidence = 'claimed';
            CREATE INDEX reservations_paid_by_tool ON reservations(tool) WHERE state = 'committed';
            CREATE TABLE idempotency(
                agent \(text) NOT NULL, key \(text) NOT NULL, args_digest \(text) NOT NULL,
                state \(text) NOT NULL CHECK (state IN ('in_progress', 'completed')), result \(text),
                owner \(text) NOT NULL, created_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL,
                tool \(text) NOT NULL DEFAULT '', PRIMARY KEY (agent, key));
            CREATE TABLE audit(
                seq BIGINT PRIMARY KEY, at_ms BIGINT NOT NULL, kind \(text) NOT NULL, payload \(text) NOT NULL,
                prev_hash \(text) NOT NULL, hash \(text) NOT NULL);
            CREATE TABLE meta(key \(text) PRIMARY KEY, value \(text) NOT NULL);
            CREATE TABLE approvals(
                id \(text) PRIMARY KEY, agent \(text) NOT NULL, tool \(text) NOT NULL, args_digest \(text) NOT NULL,
                amount BIGINT NOT NULL CHECK (amount > 0), asset \(text) NOT NULL, payee \(text) NOT NULL,
                state \(text) NOT NULL CHECK (state IN ('pending', 'approved', 'redeemed')),
                created_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL, redeemed_ms BIGINT);
            -- A payload that is not JSON (an edited record) reads as NULL, as SQLite's json_valid says,
            -- instead of failing the whole report.
            CREATE FUNCTION purser_json(t TEXT) RETURNS JSONB LANGUAGE plpgsql IMMUTABLE AS $$
            BEGIN
                RETURN t::jsonb;
            EXCEPTION WHEN others THEN
                RETURN NULL;
            END $$;
            """
        ),
        (
            6,
            """
            ALTER TABLE sessions ADD COLUMN require_plan BIGINT NOT NULL DEFAULT 0 CHECK (require_plan IN (0, 1));
            CREATE TABLE plans(
                id \(text) PRIMARY KEY, session_id \(text) NOT NULL REFERENCES sessions(id), agent \(text) NOT NULL,
                asset \(text) NOT NULL, total BIGINT NOT NULL CHECK (total > 0),
                state \(text) NOT NULL CHECK (state IN ('proposed', 'approved', 'closed')),
                outcome \(text) CHECK (outcome IS NULL OR outcome IN ('done', 'failed', 'declined', 'expired')),
                args_digest \(text) NOT NULL, created_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL,
                lifetime_ms BIGINT NOT NULL CHECK (lifetime_ms > 0), approved_ms BIGINT, approved_by \(text),
                closed_ms BIGINT, CHECK ((state = 'closed') = (outcome IS NOT NULL)));
            CREATE INDEX plans_open ON plans(session_id) WHERE state != 'closed';
            CREATE TABLE plan_steps(
                plan_id \(text) NOT NULL REFERENCES plans(id), position BIGINT NOT NULL, tool \(text) NOT NULL,
                purpose \(text) NOT NULL, max_amount BIGINT NOT NULL CHECK (max_amount > 0),
                count BIGINT NOT NULL CHECK (count > 0), PRIMARY KEY (plan_id, tool));
            CREATE TABLE plan_payments(
                reservation_id \(text) PRIMARY KEY REFERENCES reservations(id),
                plan_id \(text) NOT NULL REFERENCES plans(id));
            CREATE INDEX plan_payments_plan ON plan_payments(plan_id);
            """
        ),
        (7, DerivedTotals.postgresMigration(text: text)),
    ]
}
