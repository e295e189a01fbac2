/// Totals kept beside the reservations (schema 7), so a paid call's reads do not grow with the ledger.
///
/// Three tables, each a pure function of `reservations`, maintained by triggers on it (so every write that
/// changes a reservation changes them in the same statement, hence the same transaction: a crash between
/// two writes cannot leave them out of step), and recomputed from the reservations by `verify()`:
///
/// - `session_totals(session_id, tool)`: payments not released, those still in flight, settled and held
///   amounts (`CountedAmount`). The session gates, the per-tool gate and `sessionTotals` read a session's
///   few rows (one per tool) instead of its every payment.
/// - `window_totals(agent, asset, bucket_ms, tool)`: the same sums per minute of `created_ms`. A velocity
///   window reads the buckets that start inside it plus, exactly, the reservations of the one minute it
///   starts in (through `reservations_window`): the cost follows the window's length, not the ledger's.
/// - `paid_destinations(tool, payee_key, network, asset)`: a tool's committed payments per destination,
///   for change detection (`paymentHistory(tool:)`), instead of every settled payment of the tool, ever.
///
/// A zero row (everything released) stays and counts nothing. The trigger text is generated from
/// `CountedAmount`, so the triggers and every read count the same amount.
enum DerivedTotals {
    /// Width of a `window_totals` bucket, milliseconds.
    static let bucketMilliseconds: Int64 = 60_000

    /// The start of the bucket holding `created` (floor, also for negative times).
    static func bucketStart(_ created: Int64) -> Int64 {
        let remainder = created % bucketMilliseconds
        return created - (remainder < 0 ? remainder + bucketMilliseconds : remainder)
    }

    /// The first bucket start after `since`: buckets from there on hold only reservations created after
    /// `since`; the ones before it (created in `since`'s own minute) are read from the reservations.
    static func firstWholeBucket(after since: Int64) -> Int64 {
        let start = bucketStart(since)
        let (next, overflow) = start.addingReportingOverflow(bucketMilliseconds)
        return overflow ? .max : next
    }

    /// The SQL bucket of a row's `created_ms` (`row` is `"NEW."`, `"OLD."` or empty), floor as above.
    static func bucket(_ row: String = "") -> String {
        "(\(row)created_ms - ((\(row)created_ms % \(bucketMilliseconds)) + \(bucketMilliseconds)) % \(bucketMilliseconds))"
    }

    // MARK: What the tables must hold, computed from the reservations (migration and verify)

    static let sessionTotalsFromReservations = """
        SELECT session_id, tool, COUNT(*) AS payments, SUM(\(CountedAmount.heldPayment())) AS held_payments,
            SUM(\(CountedAmount.settled())) AS settled, SUM(\(CountedAmount.held())) AS held
        FROM reservations WHERE state != 'released' GROUP BY session_id, tool
        """

    static let windowTotalsFromReservations = """
        SELECT agent, asset, \(bucket()) AS bucket_ms, tool, COUNT(*) AS payments,
            SUM(\(CountedAmount.heldPayment())) AS held_payments, SUM(\(CountedAmount.settled())) AS settled,
            SUM(\(CountedAmount.held())) AS held
        FROM reservations WHERE state != 'released' GROUP BY agent, asset, \(bucket()), tool
        """

    static let paidDestinationsFromReservations = """
        SELECT tool, lower(payee) AS payee_key, network, asset, MIN(payee) AS payee, COUNT(*) AS payments,
            MAX(amount) AS highest, MIN(created_ms) AS first_ms
        FROM reservations WHERE state = 'committed' GROUP BY tool, lower(payee), network, asset
        """

    /// Each table with its key columns, what it stores, and what it must store (for `verify`). Stored rows
    /// that count nothing are left out: a session whose payments were all released keeps a zero row.
    static let checks: [(table: String, keys: [String], stored: String, expected: String)] = [
        (
            "session_totals", ["session_id", "tool"],
            """
            SELECT session_id, tool, payments, held_payments, settled, held FROM session_totals
            WHERE payments != 0 OR held_payments != 0 OR settled != 0 OR held != 0
            """, sessionTotalsFromReservations
        ),
        (
            "window_totals", ["agent", "asset", "bucket_ms", "tool"],
            """
            SELECT agent, asset, bucket_ms, tool, payments, held_payments, settled, held FROM window_totals
            WHERE payments != 0 OR held_payments != 0 OR settled != 0 OR held != 0
            """, windowTotalsFromReservations
        ),
        (
            "paid_destinations", ["tool", "payee_key", "network", "asset"],
            "SELECT tool, payee_key, network, asset, payee, payments, highest, first_ms FROM paid_destinations",
            paidDestinationsFromReservations
        ),
    ]

    // MARK: Trigger statements, written once for both backends where they can be

    /// Adds row `r`'s counts (`r` not released) to `session_totals` and `window_totals`. The upsert names
    /// the existing row by its table, as PostgreSQL requires (SQLite accepts it too).
    static func add(_ r: String) -> String {
        """
        INSERT INTO session_totals(session_id, tool, payments, held_payments, settled, held)
        VALUES (\(r)session_id, \(r)tool, 1, \(CountedAmount.heldPayment(r)), \(CountedAmount.settled(r)),
            \(CountedAmount.held(r)))
        ON CONFLICT (session_id, tool) DO UPDATE SET payments = session_totals.payments + 1,
            held_payments = session_totals.held_payments + excluded.held_payments,
            settled = session_totals.settled + excluded.settled, held = session_totals.held + excluded.held;
        INSERT INTO window_totals(agent, asset, bucket_ms, tool, payments, held_payments, settled, held)
        VALUES (\(r)agent, \(r)asset, \(bucket(r)), \(r)tool, 1, \(CountedAmount.heldPayment(r)),
            \(CountedAmount.settled(r)), \(CountedAmount.held(r)))
        ON CONFLICT (agent, asset, bucket_ms, tool) DO UPDATE SET payments = window_totals.payments + 1,
            held_payments = window_totals.held_payments + excluded.held_payments,
            settled = window_totals.settled + excluded.settled, held = window_totals.held + excluded.held;
        """
    }

    /// Takes row `r`'s counts (`r` not released) out of `session_totals` and `window_totals`.
    static func subtract(_ r: String) -> String {
        """
        UPDATE session_totals SET payments = payments - 1, held_payments = held_payments - (\(CountedAmount.heldPayment(r))),
            settled = settled - (\(CountedAmount.settled(r))), held = held - (\(CountedAmount.held(r)))
        WHERE session_id = \(r)session_id AND tool = \(r)tool;
        UPDATE window_totals SET payments = payments - 1, held_payments = held_payments - (\(CountedAmount.heldPayment(r))),
            settled = settled - (\(CountedAmount.settled(r))), held = held - (\(CountedAmount.held(r)))
        WHERE agent = \(r)agent AND asset = \(r)asset AND bucket_ms = \(bucket(r)) AND tool = \(r)tool;
        """
    }

    /// Adds committed row `r` to its destination (`least`/`greatest`: the backend's two-argument min/max).
    static func addDestination(_ r: String, least: String, greatest: String) -> String {
        """
        INSERT INTO paid_destinations(tool, payee_key, network, asset, payee, payments, highest, first_ms)
        VALUES (\(r)tool, lower(\(r)payee), \(r)network, \(r)asset, \(r)payee, 1, \(r)amount, \(r)created_ms)
        ON CONFLICT (tool, payee_key, network, asset) DO UPDATE SET
            payee = \(least)(paid_destinations.payee, excluded.payee), payments = paid_destinations.payments + 1,
            highest = \(greatest)(paid_destinations.highest, excluded.highest),
            first_ms = \(least)(paid_destinations.first_ms, excluded.first_ms);
        """
    }

    /// Recomputes row `r`'s destination from the reservations (after a committed payment left `committed`
    /// or changed: rare, so a read of that destination's payments is fine here).
    static func recomputeDestination(_ r: String) -> String {
        """
        DELETE FROM paid_destinations
        WHERE tool = \(r)tool AND payee_key = lower(\(r)payee) AND network = \(r)network AND asset = \(r)asset;
        INSERT INTO paid_destinations(tool, payee_key, network, asset, payee, payments, highest, first_ms)
        SELECT tool, lower(payee), network, asset, MIN(payee), COUNT(*), MAX(amount), MIN(created_ms)
        FROM reservations WHERE tool = \(r)tool AND lower(payee) = lower(\(r)payee) AND network = \(r)network
            AND asset = \(r)asset AND state = 'committed'
        GROUP BY tool, lower(payee), network, asset;
        """
    }

    /// True when a committed row's destination entry is unchanged by an update (OLD and NEW both committed).
    static let destinationUnchanged = """
        OLD.tool = NEW.tool AND OLD.payee = NEW.payee AND OLD.network = NEW.network AND OLD.asset = NEW.asset
            AND OLD.amount = NEW.amount AND OLD.created_ms = NEW.created_ms
        """

    /// The tables, filled from the reservations (`integer` is the backend's 64-bit integer type, `text` its
    /// byte-wise text, `options` what follows each table's closing parenthesis).
    static func tables(integer: String, text: String, options: String) -> String {
        let amounts = """
            payments \(integer) NOT NULL CHECK (payments >= 0),
                held_payments \(integer) NOT NULL CHECK (held_payments >= 0),
                settled \(integer) NOT NULL CHECK (settled >= 0), held \(integer) NOT NULL CHECK (held >= 0)
            """
        return """
            CREATE TABLE session_totals(
                session_id \(text) NOT NULL, tool \(text) NOT NULL,
                \(amounts),
                PRIMARY KEY (session_id, tool))\(options);
            CREATE TABLE window_totals(
                agent \(text) NOT NULL, asset \(text) NOT NULL, bucket_ms \(integer) NOT NULL, tool \(text) NOT NULL,
                \(amounts),
                PRIMARY KEY (agent, asset, bucket_ms, tool))\(options);
            CREATE TABLE paid_destinations(
                tool \(text) NOT NULL, payee_key \(text) NOT NULL, network \(text) NOT NULL, asset \(text) NOT NULL,
                payee \(text) NOT NULL, payments \(integer) NOT NULL CHECK (payments > 0),
                highest \(integer) NOT NULL, first_ms \(integer) NOT NULL,
                PRIMARY KEY (tool, payee_key, network, asset))\(options);
            INSERT INTO session_totals(session_id, tool, payments, held_payments, settled, held)
                \(sessionTotalsFromReservations);
            INSERT INTO window_totals(agent, asset, bucket_ms, tool, payments, held_payments, settled, held)
                \(windowTotalsFromReservations);
            INSERT INTO paid_destinations(tool, payee_key, network, asset, payee, payments, highest, first_ms)
                \(paidDestinationsFromReservations);
            """
    }

    /// Schema step 7 on SQLite: the tables, filled from the reservations, and one trigger per case.
    static let sqliteMigration: String = {
        tables(integer: "INTEGER", text: "TEXT", options: " STRICT, WITHOUT ROWID") + """

            CREATE TRIGGER reservations_totals_insert AFTER INSERT ON reservations WHEN NEW.state != 'released'
            BEGIN
            \(add("NEW."))
            END;
            CREATE TRIGGER reservations_totals_update_old AFTER UPDATE ON reservations WHEN OLD.state != 'released'
            BEGIN
            \(subtract("OLD."))
            END;
            CREATE TRIGGER reservations_totals_update_new AFTER UPDATE ON reservations WHEN NEW.state != 'released'
            BEGIN
            \(add("NEW."))
            END;
            CREATE TRIGGER reservations_totals_delete AFTER DELETE ON reservations WHEN OLD.state != 'released'
            BEGIN
            \(subtract("OLD."))
            END;
            CREATE TRIGGER reservations_paid_insert AFTER INSERT ON reservations WHEN NEW.state = 'committed'
            BEGIN
            \(addDestination("NEW.", least: "min", greatest: "max"))
            END;
            CREATE TRIGGER reservations_paid_commit AFTER UPDATE ON reservations
            WHEN NEW.state = 'committed' AND OLD.state != 'committed'
            BEGIN
            \(addDestination("NEW.", least: "min", greatest: "max"))
            END;
            CREATE TRIGGER reservations_paid_change_old AFTER UPDATE ON reservations
            WHEN OLD.state = 'committed' AND NOT (NEW.state = 'committed' AND \(destinationUnchanged))
            BEGIN
            \(recomputeDestination("OLD."))
            END;
            CREATE TRIGGER reservations_paid_change_new AFTER UPDATE ON reservations
            WHEN OLD.state = 'committed' AND NEW.state = 'committed' AND NOT (\(destinationUnchanged))
            BEGIN
            \(recomputeDestination("NEW."))
            END;
            CREATE TRIGGER reservations_paid_delete AFTER DELETE ON reservations WHEN OLD.state = 'committed'
            BEGIN
            \(recomputeDestination("OLD."))
            END;
            """
    }()

    /// Schema step 7 on PostgreSQL: the same tables, filled alike, and one trigger function doing what the
    /// SQLite triggers do.
    static func postgresMigration(text: String) -> String {
        tables(integer: "BIGINT", text: text, options: "") + """

            CREATE FUNCTION purser_reservation_totals() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE' OR TG_OP = 'DELETE' THEN
                    IF OLD.state != 'released' THEN
                        \(subtract("OLD."))
                    END IF;
                    IF OLD.state = 'committed' THEN
                        IF TG_OP = 'DELETE' THEN
                            \(recomputeDestination("OLD."))
                        ELSIF NOT (NEW.state = 'committed' AND \(destinationUnchanged)) THEN
                            \(recomputeDestination("OLD."))
                            IF NEW.state = 'committed' THEN
                                \(recomputeDestination("NEW."))
                            END IF;
                        END IF;
                    END IF;
                END IF;
                IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' THEN
                    IF NEW.state != 'released' THEN
                        \(add("NEW."))
                    END IF;
                    IF NEW.state = 'committed' THEN
                        IF TG_OP = 'INSERT' THEN
                            \(addDestination("NEW.", least: "LEAST", greatest: "GREATEST"))
                        ELSIF OLD.state != 'committed' THEN
                            \(addDestination("NEW.", least: "LEAST", greatest: "GREATEST"))
                        END IF;
                    END IF;
                END IF;
                RETURN NULL;
            END $$;
            CREATE TRIGGER reservations_totals AFTER INSERT OR UPDATE OR DELETE ON reservations
                FOR EACH ROW EXECUTE FUNCTION purser_reservation_totals();
            """
    }
}
