// Internal to the PostgreSQL backend: the SQL syncstack installs in its
// schema when collections are mapped to the server's own tables
// (postgres_mapped.cc; docs/decisions/mapped-tables.md, "The server").
// "$S." stands for the quoted schema name.
#pragma once

namespace syncstack::postgres_internal {

// Tables of the mapping: the attached collections, and the rows waiting
// for a parent (their record, whole, stays in records.payload).
inline constexpr const char* kMappedTables = R"sql(
CREATE TABLE IF NOT EXISTS $S.mapped(
  collection text COLLATE "C" PRIMARY KEY,
  tbl text NOT NULL,
  id_col text NOT NULL,
  id_type text NOT NULL,
  owner_col text NOT NULL,
  refs jsonb NOT NULL,
  depth integer NOT NULL);
CREATE TABLE IF NOT EXISTS $S.parked(
  account text COLLATE "C" NOT NULL,
  collection text COLLATE "C" NOT NULL,
  id bytea NOT NULL,
  PRIMARY KEY (account, collection, id));
)sql";

// The functions. Every write by other code goes through capture(); every
// write syncstack applies through mapped_write(), with the row it writes
// named in the transaction-local setting syncstack.applying (the triggers
// skip exactly that row: echo suppression; '*' skips every row).
inline constexpr const char* kMappedFunctions = R"sql(
-- The advisory lock key of an account: FNV-1a, as AccountLockKey in C++.
CREATE OR REPLACE FUNCTION $S.account_key(a text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE
  b bytea := convert_to(a, 'UTF8');
  h bigint := 2166136261;
BEGIN
  FOR i IN 0 .. length(b) - 1 LOOP
    h := ((h # get_byte(b, i)) * 16777619) % 4294967296;
  END LOOP;
  IF h >= 2147483648 THEN h := h - 4294967296; END IF;
  RETURN h::integer;
END $f$;

-- RecordHash of SetFingerprint: the first 8 bytes (little-endian) of
-- SHA-256(id || ts as 8 bytes little-endian || extra), unsigned.
CREATE OR REPLACE FUNCTION $S.record_hash(id bytea, ts bigint, extra bytea)
RETURNS numeric LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE
  le bytea := '\x0000000000000000'::bytea;
  d bytea;
  v numeric := 0;
BEGIN
  FOR i IN 0 .. 7 LOOP
    le := set_byte(le, i, ((ts >> (8 * i)) & 255)::integer);
  END LOOP;
  d := sha256(id || le || extra);
  FOR i IN REVERSE 7 .. 0 LOOP
    v := v * 256 + get_byte(d, i);
  END LOOP;
  RETURN v;
END $f$;

-- Adds to the collection's figure ("<count>:<16 hex digits>", meta
-- figure/<collection>); a missing figure is first computed from the rows.
CREATE OR REPLACE FUNCTION $S.figure_add(acct text, coll text, dn bigint,
                                        dsum numeric)
RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  k text := 'figure/' || coll;
  cur text;
  n bigint;
  s numeric;
  signed bigint;
  m numeric := 18446744073709551616;
BEGIN
  SELECT convert_from(value, 'UTF8') INTO cur FROM $S.meta
    WHERE account = acct AND key = k;
  IF cur IS NULL THEN
    SELECT count(*), coalesce(sum($S.record_hash(r.id, r.ts, r.extra)), 0)
      INTO n, s FROM $S.records r
      WHERE r.account = acct AND r.collection = coll AND NOT r.deleted;
  ELSE
    n := split_part(cur, ':', 1)::bigint;
    s := ('x' || split_part(cur, ':', 2))::bit(64)::bigint;
    IF s < 0 THEN s := s + m; END IF;
  END IF;
  n := n + dn;
  s := mod(mod(s + dsum, m) + m, m);
  IF s >= 9223372036854775808 THEN
    signed := (s - m)::bigint;
  ELSE
    signed := s::bigint;
  END IF;
  INSERT INTO $S.meta VALUES (acct, k,
      convert_to(n::text || ':' || lpad(to_hex(signed), 16, '0'), 'UTF8'))
    ON CONFLICT (account, key) DO UPDATE SET value = excluded.value;
END $f$;

-- The account's next write sequence, with its history token (as the
-- service's write path records them).
CREATE OR REPLACE FUNCTION $S.next_seq(acct text) RETURNS bigint
LANGUAGE plpgsql AS $f$
DECLARE
  s bigint;
BEGIN
  SELECT convert_from(value, 'UTF8')::bigint INTO s FROM $S.meta
    WHERE account = acct AND key = 'policy/seq';
  s := coalesce(s, 0) + 1;
  INSERT INTO $S.meta VALUES (acct, 'policy/seq', convert_to(s::text, 'UTF8'))
    ON CONFLICT (account, key) DO UPDATE SET value = excluded.value;
  INSERT INTO $S.meta VALUES (acct, 'history/' || (s % 65536)::text,
      convert_to(s::text || ':' ||
                 substr(md5(random()::text || clock_timestamp()::text), 1, 16),
                 'UTF8'))
    ON CONFLICT (account, key) DO UPDATE SET value = excluded.value;
  RETURN s;
END $f$;

-- A write syncstack applies (the service's): moves the figure from the
-- row's current state to (ts, extra, del) and returns the account's next
-- sequence for it.
CREATE OR REPLACE FUNCTION $S.renumber(acct text, coll text, rid bytea,
                                      ts bigint, extra bytea, del boolean)
RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE
  cur record;
  live boolean;
BEGIN
  SELECT r.ts, r.extra, r.deleted INTO cur FROM $S.records r
    WHERE r.account = acct AND r.collection = coll AND r.id = rid;
  live := FOUND AND NOT cur.deleted;
  PERFORM $S.figure_add(acct, coll,
      (CASE WHEN del THEN 0 ELSE 1 END) - (CASE WHEN live THEN 1 ELSE 0 END),
      (CASE WHEN del THEN 0 ELSE $S.record_hash(rid, ts, extra) END) -
      (CASE WHEN live THEN $S.record_hash(rid, cur.ts, cur.extra) ELSE 0 END));
  RETURN $S.next_seq(acct);
END $f$;

-- An id column's text as a RecordId's 16 bytes; anything but a lower-case
-- UUID is refused.
CREATE OR REPLACE FUNCTION $S.id_bytes(tbl text, idc text, id_text text)
RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
  IF id_text IS NULL OR id_text !~
      '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    RAISE EXCEPTION 'table "%" row %=''%'': the id is not a UUID (want lower-case xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)',
      tbl, idc, id_text USING ERRCODE = '22023';
  END IF;
  RETURN decode(replace(id_text, '-', ''), 'hex');
END $f$;

CREATE OR REPLACE FUNCTION $S.id_text(id bytea) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$ SELECT encode(id, 'hex')::uuid::text $f$;

-- The sync state of rows ids (their text) of collection coll owned by acct,
-- in one query whatever the number of ids: a JSON object from the id's 32
-- hex digits to {ts, extra, deleted, payload} (bytea as hex). One primary
-- key lookup per id, whatever the statistics (the rule beside kStatements
-- in postgres_connection.cc: LATERAL ... LIMIT 1 keeps the ids outside).
CREATE OR REPLACE FUNCTION $S.records_state(acct text, coll text, ids text[])
RETURNS jsonb LANGUAGE sql STABLE AS $f$
  SELECT coalesce(jsonb_object_agg(encode(rr.id, 'hex'), jsonb_build_object(
           'ts', rr.ts, 'extra', encode(rr.extra, 'hex'),
           'deleted', rr.deleted, 'payload', encode(rr.payload, 'hex'))),
         '{}'::jsonb)
  FROM unnest(ids) AS x, LATERAL (
    SELECT * FROM $S.records r
    WHERE r.account = acct AND r.collection = coll AND r.id = CASE
      WHEN x ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      THEN decode(replace(x, '-', ''), 'hex') END
    LIMIT 1) AS rr
$f$;

-- Records one write made by other code to row id_text of collection coll
-- owned by acct (a user, its advisory lock held) at sequence s: r is the
-- row's fields (NULL: deleted), cur its sync state (records_state's entry;
-- NULL: none). The write gets a version (the database clock in ms, after
-- the version it replaces) and its history token; the account's sequence
-- and figure are left to the caller, which adds (dn, dsum) to the figure.
-- A delete of a row without live sync state is not recorded: dn and dsum
-- are NULL.
CREATE OR REPLACE FUNCTION $S.capture_one(tbl text, idc text, coll text,
    acct text, id_text text, r jsonb, cur jsonb, s bigint, OUT dn bigint,
    OUT dsum numeric)
LANGUAGE plpgsql AS $f$
DECLARE
  rid bytea := $S.id_bytes(tbl, idc, id_text);
  had boolean := cur IS NOT NULL;
  cur_ts bigint := (cur->>'ts')::bigint;
  cur_extra bytea := decode(cur->>'extra', 'hex');
  cur_payload bytea := decode(cur->>'payload', 'hex');
  live boolean;
  ts bigint;
  kept jsonb := '{}';
BEGIN
  live := had AND NOT (cur->>'deleted')::boolean;
  IF r IS NULL AND NOT live THEN RETURN; END IF;
  IF NOT EXISTS (SELECT 1 FROM $S.meta WHERE account = acct
                 AND key = 'figure/' || coll) THEN
    PERFORM $S.figure_add(acct, coll, 0, 0);
  END IF;
  ts := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
  IF had AND ts <= cur_ts THEN ts := cur_ts + 1; END IF;
  INSERT INTO $S.meta VALUES (acct, 'history/' || (s % 65536)::text,
      convert_to(s::text || ':' ||
                 substr(md5(random()::text || clock_timestamp()::text), 1, 16),
                 'UTF8'))
    ON CONFLICT (account, key) DO UPDATE SET value = excluded.value;
  dn := (CASE WHEN r IS NULL THEN 0 ELSE 1 END) -
        (CASE WHEN live THEN 1 ELSE 0 END);
  dsum := (CASE WHEN r IS NULL THEN 0
                ELSE $S.record_hash(rid, ts, ''::bytea) END) -
          (CASE WHEN live THEN $S.record_hash(rid, cur_ts, cur_extra)
                ELSE 0 END);
  IF r IS NOT NULL AND live AND length(cur_payload) > 0 THEN
    kept := convert_from(cur_payload, 'UTF8')::jsonb - ARRAY(
      SELECT jsonb_object_keys(r));
  END IF;
  INSERT INTO $S.records VALUES (acct, coll, rid, ts, ''::bytea, r IS NULL, 0,
      s, CASE WHEN kept = '{}'::jsonb THEN ''::bytea
              ELSE convert_to(kept::text, 'UTF8') END)
    ON CONFLICT (account, collection, id) DO UPDATE SET ts = excluded.ts,
      extra = excluded.extra, deleted = excluded.deleted, state = 0,
      base = excluded.base, payload = excluded.payload;
  DELETE FROM $S.parked
    WHERE account = acct AND collection = coll AND id = rid;
END $f$;

-- Takes account acct's advisory lock if it is a user and returns its
-- current write sequence (NULL: not a user, its rows are left alone).
CREATE OR REPLACE FUNCTION $S.capture_begin(acct text) RETURNS bigint
LANGUAGE plpgsql AS $f$
DECLARE
  s bigint;
BEGIN
  IF acct IS NULL OR acct = '' OR NOT EXISTS (
      SELECT 1 FROM $S.meta WHERE account = '_users'
      AND key = 'user/' || acct) THEN
    RETURN NULL;
  END IF;
  PERFORM pg_advisory_xact_lock(1398361667, $S.account_key(acct));
  SELECT convert_from(value, 'UTF8')::bigint INTO s FROM $S.meta
    WHERE account = acct AND key = 'policy/seq';
  RETURN coalesce(s, 0);
END $f$;

-- Stores the account's sequence s (when writes were recorded after s0)
-- and adds (dn, dsum) to the collection's figure: once per statement.
CREATE OR REPLACE FUNCTION $S.capture_end(acct text, coll text, s0 bigint,
                                         s bigint, dn bigint, dsum numeric)
RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  IF s IS NULL OR s = s0 THEN RETURN; END IF;
  INSERT INTO $S.meta VALUES (acct, 'policy/seq', convert_to(s::text, 'UTF8'))
    ON CONFLICT (account, key) DO UPDATE SET value = excluded.value;
  PERFORM $S.figure_add(acct, coll, dn, dsum);
END $f$;

-- Records a write made by other code to row id_text of collection coll
-- owned by acct: r is the row's fields (NULL: deleted). The write gets the
-- account's next sequence and a version; the figure follows. Rows of
-- owners that are not users, and the row syncstack itself is writing, are
-- left alone.
CREATE OR REPLACE FUNCTION $S.capture_write(tbl text, idc text, coll text,
                                           acct text, id_text text, r jsonb)
RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  s0 bigint;
  d record;
BEGIN
  IF current_setting('syncstack.applying', true) = coll || '/' || id_text THEN
    RETURN;
  END IF;
  s0 := $S.capture_begin(acct);
  IF s0 IS NULL THEN RETURN; END IF;
  d := $S.capture_one(tbl, idc, coll, acct, id_text, r,
      $S.records_state(acct, coll, ARRAY[id_text]) ->
        replace(id_text, '-', ''), s0 + 1);
  IF d.dn IS NOT NULL THEN
    PERFORM $S.capture_end(acct, coll, s0, s0 + 1, d.dn, d.dsum);
  END IF;
END $f$;

-- The capture triggers: AFTER INSERT, AFTER UPDATE and AFTER DELETE, FOR
-- EACH STATEMENT, with the transition tables old_rows / new_rows and
-- (collection, id column, owner column). The statement's writes are
-- recorded per owner (in owner order, each under its advisory lock), in
-- id order, each with its own sequence; the owner's sequence and figure
-- are written once per statement, so a statement of n rows costs O(n).
-- An update that changes a row's id or owner is a delete of the old
-- (id, owner) and a write of the new one.
CREATE OR REPLACE FUNCTION $S.capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
DECLARE
  coll text := TG_ARGV[0];
  idc text := TG_ARGV[1];
  oc text := TG_ARGV[2];
  skip text := coalesce(current_setting('syncstack.applying', true), '');
  q text;
  a record;
  w record;
  d record;
  state jsonb;
  s0 bigint;
  s bigint;
  dn bigint;
  dsum numeric;
BEGIN
  IF skip = '*' THEN RETURN NULL; END IF;
  q := CASE TG_OP
    WHEN 'INSERT' THEN
      'SELECT j->>$2 AS acct, j->>$1 AS idt, j - $1 - $2 AS r '
      'FROM (SELECT to_jsonb(t) AS j FROM new_rows t) x'
    WHEN 'DELETE' THEN
      'SELECT j->>$2 AS acct, j->>$1 AS idt, NULL::jsonb AS r '
      'FROM (SELECT to_jsonb(t) AS j FROM old_rows t) x'
    ELSE
      'WITH o AS (SELECT to_jsonb(t) AS j FROM old_rows t), '
      'n AS (SELECT to_jsonb(t) AS j FROM new_rows t) '
      'SELECT o.j->>$2 AS acct, o.j->>$1 AS idt, NULL::jsonb AS r FROM o '
      'WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.j->>$1 = o.j->>$1 '
      'AND n.j->>$2 = o.j->>$2) '
      'UNION ALL SELECT n.j->>$2, n.j->>$1, n.j - $1 - $2 FROM n' END;
  FOR a IN EXECUTE 'SELECT c.acct, '
      'array_agg(c.idt ORDER BY c.idt COLLATE "C") AS idts, '
      'array_agg(c.r ORDER BY c.idt COLLATE "C") AS rs '
      'FROM (' || q || ') c WHERE c.acct <> '''' '
      'AND $3 || ''/'' || c.idt IS DISTINCT FROM $4 '
      'GROUP BY c.acct ORDER BY c.acct COLLATE "C"'
      USING idc, oc, coll, skip LOOP
    s0 := $S.capture_begin(a.acct);
    CONTINUE WHEN s0 IS NULL;
    state := $S.records_state(a.acct, coll, a.idts);
    s := s0;
    dn := 0;
    dsum := 0;
    FOR w IN SELECT u.idt, u.r FROM unnest(a.idts, a.rs) WITH ORDINALITY
             AS u(idt, r, k) ORDER BY u.k LOOP
      d := $S.capture_one(TG_TABLE_NAME, idc, coll, a.acct, w.idt, w.r,
                          state -> replace(w.idt, '-', ''), s + 1);
      CONTINUE WHEN d.dn IS NULL;
      s := s + 1;
      dn := dn + d.dn;
      dsum := dsum + d.dsum;
    END LOOP;
    PERFORM $S.capture_end(a.acct, coll, s0, s, dn, dsum);
  END LOOP;
  RETURN NULL;
END $f$;

-- The record JSON of a live mapped row: the row's columns (but the id and
-- the owner) and the fields kept for lack of a column (`payload`), which
-- win. A parked row's record is `payload` itself.
CREATE OR REPLACE FUNCTION $S.payload_of(acct text, coll text, rid bytea,
                                        payload bytea)
RETURNS bytea LANGUAGE plpgsql STABLE AS $f$
DECLARE
  m record;
  r jsonb;
BEGIN
  SELECT * INTO m FROM $S.mapped WHERE collection = coll;
  IF NOT FOUND OR EXISTS (SELECT 1 FROM $S.parked p WHERE p.account = acct
                          AND p.collection = coll AND p.id = rid) THEN
    RETURN payload;
  END IF;
  EXECUTE format('SELECT to_jsonb(t) FROM %s t WHERE %I = $1::%s AND %I = $2',
                 m.tbl, m.id_col, m.id_type, m.owner_col)
    INTO r USING $S.id_text(rid), acct;
  IF r IS NULL THEN
    RAISE EXCEPTION 'table % row %=''%'' of "%" has sync state but no row (was it changed while syncstack''s triggers were missing?)',
      m.tbl, m.id_col, $S.id_text(rid), acct USING ERRCODE = 'XX001';
  END IF;
  r := r - m.id_col - m.owner_col;
  IF length(payload) > 0 THEN
    r := r || convert_from(payload, 'UTF8')::jsonb;
  END IF;
  RETURN convert_to(r::text, 'UTF8');
END $f$;

-- Deletes the rows of the tables that reference row idt of `coll` (and
-- theirs first), owned by acct, through their triggers: each is a delete
-- the account's devices then learn.
CREATE OR REPLACE FUNCTION $S.delete_children(acct text, coll text, idt text)
RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  ch record;
  cid text;
BEGIN
  FOR ch IN SELECT m.*, j.key AS col FROM $S.mapped m, jsonb_each_text(m.refs) j
            WHERE j.value = coll ORDER BY m.depth DESC, m.collection LOOP
    FOR cid IN EXECUTE format(
        'SELECT %I::text FROM %s WHERE %I::text = $1 AND %I = $2',
        ch.id_col, ch.tbl, ch.col, ch.owner_col) USING idt, acct LOOP
      PERFORM $S.delete_children(acct, ch.collection, cid);
      EXECUTE format('DELETE FROM %s WHERE %I = $1::%s', ch.tbl, ch.id_col,
                     ch.id_type) USING cid;
    END LOOP;
  END LOOP;
END $f$;

-- Writes one record syncstack applies (its sync state already written in
-- records, at sequence op_base) into the app's table: 'written', 'parked'
-- (a parent is not there: the record waits in records.payload), 'deleted'
-- (also for a live child whose parent is a tombstone: it is deleted, a
-- write of the server's after it) or 'skipped' (a write captured in this
-- transaction came after it). A live record whose id is another user's
-- row is refused.
CREATE OR REPLACE FUNCTION $S.mapped_write(acct text, coll text, rid bytea,
    op_base bigint, erase boolean, del boolean, payload bytea)
RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
  m record;
  p record;
  ref record;
  idt text := $S.id_text(rid);
  cur_base bigint;
  owner text;
  n bigint;
  r jsonb;
  cols text[];
  kept jsonb;
  missing boolean := false;
  gone boolean := false;
  names text;
  updates text;
BEGIN
  SELECT * INTO m FROM $S.mapped WHERE collection = coll;
  IF NOT erase THEN
    SELECT base INTO cur_base FROM $S.records
      WHERE account = acct AND collection = coll AND id = rid;
    IF cur_base IS DISTINCT FROM op_base THEN RETURN 'skipped'; END IF;
  END IF;
  EXECUTE format('SELECT %I::text FROM %s WHERE %I = $1::%s FOR UPDATE',
                 m.owner_col, m.tbl, m.id_col, m.id_type) INTO owner USING idt;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 AND owner IS DISTINCT FROM acct THEN
    IF erase OR del THEN RETURN 'skipped'; END IF;
    RAISE EXCEPTION 'collection "%" id %: refused: the id is another user''s row in table %',
      coll, idt, m.tbl USING ERRCODE = '22023';
  END IF;
  IF NOT (erase OR del) THEN
    r := convert_from(payload, 'UTF8')::jsonb;
    IF jsonb_typeof(r) IS DISTINCT FROM 'object' THEN
      RAISE EXCEPTION 'collection "%" id %: the record is not a JSON object',
        coll, idt USING ERRCODE = '22023';
    END IF;
    FOR ref IN SELECT key AS col, value AS parent FROM jsonb_each_text(m.refs)
    LOOP
      CONTINUE WHEN r->>ref.col IS NULL;
      SELECT * INTO p FROM $S.mapped WHERE collection = ref.parent;
      EXECUTE format('SELECT 1 FROM %s WHERE %I::text = $1 AND %I = $2',
                     p.tbl, p.id_col, p.owner_col) USING r->>ref.col, acct;
      GET DIAGNOSTICS n = ROW_COUNT;
      IF n = 0 THEN
        missing := true;
        IF EXISTS (SELECT 1 FROM $S.records pr WHERE pr.account = acct
                   AND pr.collection = ref.parent AND pr.deleted
                   AND pr.id = CASE WHEN r->>ref.col ~ '^[0-9a-f-]{36}$'
                     THEN decode(replace(r->>ref.col, '-', ''), 'hex') END)
        THEN
          gone := true;
        END IF;
      END IF;
    END LOOP;
  END IF;
  IF gone THEN
    -- Its parent was deleted: the child goes with it, as a write of the
    -- server after this one (its devices learn it at their next sync).
    IF owner IS NOT NULL THEN
      PERFORM $S.delete_children(acct, coll, idt);
      PERFORM set_config('syncstack.applying', coll || '/' || idt, true);
      EXECUTE format('DELETE FROM %s WHERE %I = $1::%s', m.tbl, m.id_col,
                     m.id_type) USING idt;
      PERFORM set_config('syncstack.applying', '', true);
    END IF;
    DELETE FROM $S.parked
      WHERE account = acct AND collection = coll AND id = rid;
    PERFORM $S.capture_write(m.tbl, m.id_col, coll, acct, idt, NULL);
    RETURN 'deleted';
  END IF;
  IF erase OR del OR missing THEN
    IF owner IS NOT NULL THEN
      PERFORM $S.delete_children(acct, coll, idt);
      PERFORM set_config('syncstack.applying', coll || '/' || idt, true);
      EXECUTE format('DELETE FROM %s WHERE %I = $1::%s', m.tbl, m.id_col,
                     m.id_type) USING idt;
      PERFORM set_config('syncstack.applying', '', true);
    END IF;
    IF missing THEN
      INSERT INTO $S.parked VALUES (acct, coll, rid) ON CONFLICT DO NOTHING;
      RETURN 'parked';
    END IF;
    DELETE FROM $S.parked
      WHERE account = acct AND collection = coll AND id = rid;
    RETURN 'deleted';
  END IF;
  SELECT array_agg(attname::text) INTO cols FROM pg_attribute
    WHERE attrelid = m.tbl::regclass AND attnum > 0 AND NOT attisdropped;
  kept := r - cols;
  r := (r - ARRAY(SELECT jsonb_object_keys(kept))) ||
       jsonb_build_object(m.id_col, idt, m.owner_col, acct);
  SELECT string_agg(format('%I', k), ', '),
         string_agg(format('%I = excluded.%I', k, k), ', ')
           FILTER (WHERE k <> m.id_col)
    INTO names, updates FROM jsonb_object_keys(r) AS k;
  PERFORM set_config('syncstack.applying', coll || '/' || idt, true);
  EXECUTE format('INSERT INTO %s AS t (%s) SELECT %s FROM '
                 'jsonb_populate_record(NULL::%s, $1) '
                 'ON CONFLICT (%I) DO UPDATE SET %s',
                 m.tbl, names, names, m.tbl, m.id_col, updates) USING r;
  PERFORM set_config('syncstack.applying', '', true);
  UPDATE $S.records SET payload = CASE WHEN kept = '{}'::jsonb THEN ''::bytea
                                       ELSE convert_to(kept::text, 'UTF8') END
    WHERE account = acct AND collection = coll AND id = rid;
  DELETE FROM $S.parked WHERE account = acct AND collection = coll AND id = rid;
  RETURN 'written';
END $f$;

-- Writes the account's parked rows whose parents arrived, until none does.
CREATE OR REPLACE FUNCTION $S.mapped_unpark(acct text) RETURNS void
LANGUAGE plpgsql AS $f$
DECLARE
  w record;
  progress boolean := true;
BEGIN
  WHILE progress LOOP
    progress := false;
    FOR w IN SELECT r.collection, r.id, r.base, r.payload
             FROM $S.parked p JOIN $S.records r USING (account, collection, id)
             WHERE p.account = acct AND NOT r.deleted LOOP
      IF $S.mapped_write(acct, w.collection, w.id, w.base, false, false,
                         w.payload) = 'written' THEN
        progress := true;
      END IF;
    END LOOP;
  END LOOP;
END $f$;

-- Records, set-based, the rows of `coll`'s table without live sync state
-- (there before syncstack attached, or written while its triggers were
-- missing) as written by the server: per owner that is a user, one
-- sequence each, their history tokens, the figure recomputed.
CREATE OR REPLACE FUNCTION $S.backfill(tbl_name text, coll text)
RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  m record;
  a record;
  s bigint;
  now_ms bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
BEGIN
  SELECT * INTO m FROM $S.mapped WHERE collection = coll;
  CREATE TEMP TABLE IF NOT EXISTS syncstack_backfill(
    account text, id bytea, PRIMARY KEY (account, id)) ON COMMIT DROP;
  TRUNCATE syncstack_backfill;
  EXECUTE format(
    'INSERT INTO syncstack_backfill SELECT t.%2$I::text, '
    '$S.id_bytes($1, %1$L, t.%1$I::text) FROM %3$s t '
    'WHERE EXISTS (SELECT 1 FROM $S.meta u WHERE u.account = ''_users'' '
    'AND u.key = ''user/'' || t.%2$I::text) '
    'AND NOT EXISTS (SELECT 1 FROM $S.records r WHERE '
    'r.account = t.%2$I::text AND r.collection = $2 AND NOT r.deleted AND '
    'r.id = CASE WHEN t.%1$I::text ~ ''^[0-9a-f-]{36}$'' THEN '
    'decode(replace(t.%1$I::text, ''-'', ''''), ''hex'') END)',
    m.id_col, m.owner_col, m.tbl) USING tbl_name, coll;
  FOR a IN SELECT account, count(*) AS n FROM syncstack_backfill
           GROUP BY account ORDER BY account LOOP
    PERFORM pg_advisory_xact_lock(1398361667, $S.account_key(a.account));
    SELECT convert_from(value, 'UTF8')::bigint INTO s FROM $S.meta
      WHERE account = a.account AND key = 'policy/seq';
    s := coalesce(s, 0);
    INSERT INTO $S.records
      SELECT b.account, coll, b.id,
             greatest(now_ms, coalesce(r.ts + 1, now_ms)), ''::bytea, false,
             0, s + row_number() OVER (ORDER BY b.id), ''::bytea
      FROM syncstack_backfill b LEFT JOIN $S.records r
        ON r.account = b.account AND r.collection = coll AND r.id = b.id
      WHERE b.account = a.account
      ON CONFLICT (account, collection, id) DO UPDATE SET ts = excluded.ts,
        extra = excluded.extra, deleted = false, state = 0,
        base = excluded.base, payload = excluded.payload;
    INSERT INTO $S.meta
      SELECT a.account, 'history/' || ((s + g) % 65536)::text,
             convert_to((s + g)::text || ':' ||
               substr(md5(random()::text || g::text), 1, 16), 'UTF8')
      FROM generate_series(greatest(1, a.n - 65535), a.n) AS g
      ON CONFLICT (account, key) DO UPDATE SET value = excluded.value;
    INSERT INTO $S.meta VALUES (a.account, 'policy/seq',
        convert_to((s + a.n)::text, 'UTF8'))
      ON CONFLICT (account, key) DO UPDATE SET value = excluded.value;
    DELETE FROM $S.meta WHERE account = a.account AND key = 'figure/' || coll;
    PERFORM $S.figure_add(a.account, coll, 0, 0);
    DELETE FROM $S.parked p USING syncstack_backfill b
      WHERE p.account = b.account AND p.collection = coll AND p.id = b.id
        AND b.account = a.account;
  END LOOP;
END $f$;

-- Database::RemoveAccount: the account's rows leave the app's tables too,
-- children first, uncaptured.
CREATE OR REPLACE FUNCTION $S.mapped_remove_account(acct text) RETURNS void
LANGUAGE plpgsql AS $f$
DECLARE
  m record;
BEGIN
  PERFORM set_config('syncstack.applying', '*', true);
  FOR m IN SELECT * FROM $S.mapped ORDER BY depth DESC, collection LOOP
    EXECUTE format('DELETE FROM %s WHERE %I = $1', m.tbl, m.owner_col)
      USING acct;
  END LOOP;
  DELETE FROM $S.parked WHERE account = acct;
  PERFORM set_config('syncstack.applying', '', true);
END $f$;
)sql";

}  // namespace syncstack::postgres_internal
