"""The catalog's contents as rows: user relations (buckets, group tables) and the fixed system objects.

`Snapshot` is built per query from the storage bucket list; every relation is a list of dicts whose
keys are a subset of its PostgreSQL columns (missing keys read as the column type's neutral value).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

from pgmkts.planner.catalog import pgdata

PG_CATALOG_NS, PUBLIC_NS, INFO_SCHEMA_NS, PG_TOAST_NS = 11, 2200, 13207, 99
OWNER_OID = 10           # the bootstrap superuser: the session user owns everything
DATABASE_OID = 16384     # one database per server
HEAP_AM, BTREE_AM = 2, 403
DEFAULT_COLLATION = 100
FIRST_USER_OID = 16385

# storage dtype → PostgreSQL type OID (SPEC §3: unsigned types widen to the next signed type)
DTYPE_OID = {"i1": 21, "i2": 21, "i4": 23, "i8": 20, "u1": 21, "u2": 23, "u4": 20, "u8": 20,
             "f4": 700, "f8": 701, "bool": 16, "U16": 25}
TYPE_ROWS = {r[0]: r for r in pgdata.TYPES}
TYPE_BY_NAME = {r[1]: r for r in pgdata.TYPES}
_TYPE_COLS = ("oid typname typlen typbyval typtype typcategory typispreferred typdelim typelem typarray "
              "typinput typoutput typreceive typsend typmodin typmodout typanalyze typalign typstorage "
              "typcollation typsubscript typbasetype").split()
SYSTEM_VIEWS = {"pg_roles", "pg_user", "pg_settings", "pg_stat_user_tables", "pg_stat_all_tables",
                "pg_statio_user_tables", "pg_tables", "pg_views", "pg_matviews", "pg_indexes",
                "pg_sequences", "pg_stat_activity", "pg_available_extensions", "pg_locks",
                "pg_stat_database", "pg_shadow", "pg_group", "pg_prepared_statements", "pg_cursors",
                "pg_timezone_names", "pg_stat_replication", "pg_replication_slots"}
NAMESPACES = [(PG_CATALOG_NS, "pg_catalog", "system catalog schema"),
              (PG_TOAST_NS, "pg_toast", "reserved schema for TOAST tables"),
              (PUBLIC_NS, "public", "standard public schema"),
              (INFO_SCHEMA_NS, "information_schema", None)]


def stable_oid(key: str, taken: set[int], lo: int = FIRST_USER_OID, hi: int = 2**31 - 1) -> int:
    """An OID that depends only on `key` (so it survives restarts), probing past collisions."""
    h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    oid = lo + h % (hi - lo)
    while oid in taken:
        oid = lo + (oid + 1 - lo) % (hi - lo)
    taken.add(oid)
    return oid


@dataclass
class Column:
    name: str
    type_oid: int
    not_null: bool = False


@dataclass
class Relation:
    oid: int
    name: str
    namespace: int
    kind: str                      # 'r' table, 'v' view
    columns: list[Column]
    description: str | None = None
    type_oid: int = 0              # the table's row type (pg_class.reltype), as PostgreSQL creates one
    array_oid: int = 0


def bucket_columns(columns, variable_length: bool) -> list[Column]:
    """A bucket's SQL columns: lower-case names, `epoch` timestamptz, dtypes mapped per SPEC §3."""
    out = []
    for name, dtype in columns:
        if name == "Epoch":
            out.append(Column("epoch", 1184, True))
        elif name == "Nanoseconds" and variable_length:
            out.append(Column("nanoseconds", 23, True))
        else:
            out.append(Column(name.lower(), DTYPE_OID.get(dtype, 25)))
    return out


@dataclass
class Snapshot:
    """What the catalog shows one query: user relations from the bucket list, plus session facts."""

    buckets: list = field(default_factory=list)        # storage BucketInfo list
    user: str = "pgmkts"
    database: str = "pgmkts"
    settings: dict[str, str] = field(default_factory=dict)
    functions: list[tuple[str, int, list[int], str]] = field(default_factory=list)  # (name, rettype, argtypes, kind)
    groups: dict[str, list[tuple[str, str]]] = field(default_factory=dict)          # declared group tables
    backend_pid: int | None = None

    @cached_property
    def fingerprint(self) -> tuple:
        """Everything the per-relation rows depend on: equal fingerprints give equal rows."""
        return (self.database, self.user, tuple((k, tuple(v)) for k, v in sorted(self.groups.items())),
                tuple((b.tbk, tuple(b.columns), b.variable_length) for b in self.buckets))

    @cached_property
    def user_relations(self) -> list[Relation]:
        rels: dict[str, Relation] = {}
        taken: set[int] = set()
        group_cols: dict[str, list[Column]] = {}
        for name, declared in self.groups.items():
            variable = any(c == "Nanoseconds" for c, _ in declared)
            group_cols[name] = [Column("symbol", 25, True)] + bucket_columns(declared, variable)
        for b in sorted(self.buckets, key=lambda b: b.tbk):
            cols = bucket_columns(b.columns, b.variable_length)
            rels[b.tbk] = Relation(stable_oid("public." + b.tbk, taken), b.tbk, PUBLIC_NS, "r", cols,
                                   f"bucket {b.tbk} ({'variable' if b.variable_length else 'fixed'} length)")
            gname = f"{b.attrgroup.lower()}_{b.timeframe.lower()}"
            group_cols.setdefault(gname, [Column("symbol", 25, True)] + cols)
        for gname in sorted(group_cols):
            if gname not in rels:
                rels[gname] = Relation(stable_oid("public." + gname, taken), gname, PUBLIC_NS, "r",
                                       group_cols[gname], "every symbol of one attribute group and timeframe")
        out = sorted(rels.values(), key=lambda r: r.name)
        for r in out:
            r.type_oid = stable_oid("type.public." + r.name, taken)
            r.array_oid = stable_oid("arraytype.public." + r.name, taken)
        return out

    @cached_property
    def composite_types(self) -> dict[int, tuple[Relation, bool]]:
        """type OID → (relation, is_array) for the user tables' row types and their arrays."""
        out: dict[int, tuple[Relation, bool]] = {}
        for r in self.user_relations:
            out[r.type_oid] = (r, False)
            out[r.array_oid] = (r, True)
        return out

    @cached_property
    def system_relations(self) -> list[Relation]:
        # PostgreSQL's own OIDs where it has them (pg_description.classoid = 'pg_class'::regclass)
        taken = set(pgdata.RELATION_OIDS.values()) | set(pgdata.INFO_SCHEMA_OIDS.values())
        out = []
        for name, cols in pgdata.PG_CATALOG_COLUMNS.items():
            oid = pgdata.RELATION_OIDS.get(name) or stable_oid("pg_catalog." + name, taken, 1000, 16383)
            out.append(Relation(oid, name, PG_CATALOG_NS, "v" if name in SYSTEM_VIEWS else "r",
                                [Column(c, t) for c, t in cols]))
        for name, cols in pgdata.INFORMATION_SCHEMA_COLUMNS.items():
            oid = pgdata.INFO_SCHEMA_OIDS.get(name) or stable_oid("information_schema." + name, taken, 1000, 16383)
            out.append(Relation(oid, name, INFO_SCHEMA_NS, "v", [Column(c, t) for c, t in cols]))
        return out

    @cached_property
    def relations(self) -> list[Relation]:
        return self.system_relations + self.user_relations

    @cached_property
    def relation_by_oid(self) -> dict[int, Relation]:
        return {r.oid: r for r in self.relations}

    def find_relation(self, name: str, namespace: int | None = None) -> Relation | None:
        """Resolve a relation name the way search_path (pg_catalog, public) does."""
        for r in self.relations:
            if r.name == name and (namespace is None or r.namespace == namespace):
                if namespace is None and r.namespace == INFO_SCHEMA_NS:
                    continue
                return r
        return None

    # --- pg_catalog rows -------------------------------------------------------------------------
    def pg_namespace(self) -> list[dict]:
        return [{"oid": o, "nspname": n, "nspowner": OWNER_OID} for o, n, _ in NAMESPACES]

    def pg_class(self, relations: list[Relation] | None = None) -> list[dict]:
        return [{
            "oid": r.oid, "relname": r.name, "relnamespace": r.namespace, "reltype": r.type_oid, "reloftype": 0,
            "relowner": OWNER_OID, "relam": HEAP_AM if r.kind == "r" else 0, "relfilenode": r.oid if r.kind == "r" else 0,
            "reltablespace": 0, "relpages": 0, "reltuples": -1.0, "relallvisible": 0, "reltoastrelid": 0,
            "relhasindex": False, "relisshared": False, "relpersistence": "p", "relkind": r.kind,
            "relnatts": len(r.columns), "relchecks": 0, "relhasrules": r.kind == "v", "relhastriggers": False,
            "relhassubclass": False, "relrowsecurity": False, "relforcerowsecurity": False,
            "relispopulated": True, "relreplident": "d" if r.kind == "r" else "n", "relispartition": False,
            "relrewrite": 0, "relfrozenxid": 0, "relminmxid": 0,
        } for r in (self.relations if relations is None else relations)]

    def pg_attribute(self, relations: list[Relation] | None = None) -> list[dict]:
        rows = []
        for r in self.relations if relations is None else relations:
            for i, c in enumerate(r.columns, 1):
                t = TYPE_ROWS.get(c.type_oid)
                rows.append({
                    "attrelid": r.oid, "attname": c.name, "atttypid": c.type_oid, "attstattarget": -1,
                    "attlen": t[2] if t else -1, "attnum": i, "attndims": 1 if t and t[5] == "A" else 0,
                    "attcacheoff": -1, "atttypmod": -1, "attbyval": t[3] if t else False,
                    "attalign": t[17] if t else "i", "attstorage": t[18] if t else "p", "attcompression": "",
                    "attnotnull": c.not_null, "atthasdef": False, "atthasmissing": False, "attidentity": "",
                    "attgenerated": "", "attisdropped": False, "attislocal": True, "attinhcount": 0,
                    "attcollation": t[19] if t else 0,
                })
        return rows

    def pg_type(self, relations: list[Relation] | None = None) -> list[dict]:
        rows = []
        if relations is None or relations is self.system_relations:
            for t in pgdata.TYPES:
                row = dict(zip(_TYPE_COLS, t, strict=True))
                row.update(typnamespace=PG_CATALOG_NS, typowner=OWNER_OID, typisdefined=True, typrelid=0,
                           typnotnull=False, typtypmod=-1, typndims=0)
                rows.append(row)
        base = {"typnamespace": PUBLIC_NS, "typowner": OWNER_OID, "typlen": -1, "typbyval": False,
                "typisdefined": True, "typdelim": ",", "typalign": "d", "typstorage": "x", "typtypmod": -1,
                "typnotnull": False, "typbasetype": 0, "typndims": 0, "typcollation": 0, "typispreferred": False,
                "typmodin": "-", "typmodout": "-"}
        for r in self.user_relations if relations is None or relations is self.user_relations else []:
            rows.append({**base, "oid": r.type_oid, "typname": r.name, "typtype": "c", "typcategory": "C",
                         "typrelid": r.oid, "typelem": 0, "typarray": r.array_oid, "typinput": "record_in",
                         "typoutput": "record_out", "typreceive": "record_recv", "typsend": "record_send",
                         "typanalyze": "-", "typsubscript": "-"})
            rows.append({**base, "oid": r.array_oid, "typname": "_" + r.name, "typtype": "b", "typcategory": "A",
                         "typrelid": 0, "typelem": r.type_oid, "typarray": 0, "typinput": "array_in",
                         "typoutput": "array_out", "typreceive": "array_recv", "typsend": "array_send",
                         "typanalyze": "array_typanalyze", "typsubscript": "array_subscript_handler"})
        return rows

    def pg_range(self) -> list[dict]:
        keys = ("rngtypid", "rngsubtype", "rngmultitypid", "rngcollation", "rngsubopc", "rngcanonical",
                "rngsubdiff")
        return [dict(zip(keys, r, strict=True)) for r in pgdata.RANGES]

    def pg_database(self) -> list[dict]:
        return [{"oid": DATABASE_OID, "datname": self.database, "datdba": OWNER_OID, "encoding": 6,
                 "datlocprovider": "c", "datistemplate": False, "datallowconn": True, "datconnlimit": -1,
                 "datfrozenxid": 0, "datminmxid": 1, "dattablespace": 1663, "datcollate": "C.UTF-8",
                 "datctype": "C.UTF-8"}]

    def _role(self) -> dict:
        return {"oid": OWNER_OID, "rolname": self.user, "rolsuper": True, "rolinherit": True,
                "rolcreaterole": True, "rolcreatedb": True, "rolcanlogin": True, "rolreplication": False,
                "rolconnlimit": -1, "rolbypassrls": True, "rolpassword": "********"}

    def pg_roles(self) -> list[dict]:
        return [self._role()]

    def pg_authid(self) -> list[dict]:
        return [{**self._role(), "rolpassword": None}]

    def pg_user(self) -> list[dict]:
        return [{"usename": self.user, "usesysid": OWNER_OID, "usecreatedb": True, "usesuper": True,
                 "userepl": False, "usebypassrls": True, "passwd": "********"}]

    pg_shadow = pg_user

    def pg_am(self) -> list[dict]:
        return [{"oid": HEAP_AM, "amname": "heap", "amhandler": "heap_tableam_handler", "amtype": "t"},
                {"oid": BTREE_AM, "amname": "btree", "amhandler": "bthandler", "amtype": "i"}]

    def pg_collation(self) -> list[dict]:
        base = {"collnamespace": PG_CATALOG_NS, "collowner": OWNER_OID, "collisdeterministic": True,
                "collencoding": -1}
        return [{**base, "oid": 100, "collname": "default", "collprovider": "d"},
                {**base, "oid": 950, "collname": "C", "collprovider": "c", "collcollate": "C", "collctype": "C"},
                {**base, "oid": 951, "collname": "POSIX", "collprovider": "c", "collcollate": "POSIX",
                 "collctype": "POSIX"}]

    def pg_tablespace(self) -> list[dict]:
        return [{"oid": 1663, "spcname": "pg_default", "spcowner": OWNER_OID},
                {"oid": 1664, "spcname": "pg_global", "spcowner": OWNER_OID}]

    def pg_language(self) -> list[dict]:
        base = {"lanowner": OWNER_OID, "lanispl": False, "lanpltrusted": False, "lanplcallfoid": 0,
                "laninline": 0, "lanvalidator": 0}
        return [{**base, "oid": 12, "lanname": "internal"}, {**base, "oid": 14, "lanname": "sql",
                                                             "lanpltrusted": True}]

    def pg_description(self) -> list[dict]:
        rows = [{"objoid": o, "classoid": 2615, "objsubid": 0, "description": d}
                for o, _, d in NAMESPACES if d]
        rows += [{"objoid": r.oid, "classoid": 1259, "objsubid": 0, "description": r.description}
                 for r in self.user_relations if r.description]
        return rows

    def pg_proc(self) -> list[dict]:
        taken: set[int] = set()
        rows = []
        for name, rettype, argtypes, kind in sorted(self.functions):
            rows.append({
                "oid": stable_oid(f"proc.{name}.{argtypes}", taken, 1000, 16383), "proname": name,
                "pronamespace": PG_CATALOG_NS, "proowner": OWNER_OID, "prolang": 12, "procost": 1.0,
                "prorows": 0.0, "provariadic": 0, "prosupport": "-", "prokind": kind, "prosecdef": False,
                "proleakproof": False, "proisstrict": True, "proretset": name in ("generate_series", "unnest"),
                "provolatile": "s", "proparallel": "s", "pronargs": len(argtypes), "pronargdefaults": 0,
                "prorettype": rettype, "proargtypes": argtypes, "prosrc": name,
            })
        return rows

    def pg_settings(self) -> list[dict]:
        from pgmkts.planner.catalog.settings import settings_rows

        return settings_rows(self.settings, user=self.user)

    def pg_tables(self) -> list[dict]:
        ns = {o: n for o, n, _ in NAMESPACES}
        return [{"schemaname": ns[r.namespace], "tablename": r.name, "tableowner": self.user,
                 "tablespace": None, "hasindexes": False, "hasrules": False, "hastriggers": False,
                 "rowsecurity": False} for r in self.relations if r.kind == "r"]

    def pg_views(self) -> list[dict]:
        ns = {o: n for o, n, _ in NAMESPACES}
        return [{"schemaname": ns[r.namespace], "viewname": r.name, "viewowner": self.user,
                 "definition": None} for r in self.relations if r.kind == "v"]

    def _stat_tables(self, user_only: bool) -> list[dict]:
        rels = self.user_relations if user_only else [r for r in self.relations if r.kind == "r"]
        ns = {o: n for o, n, _ in NAMESPACES}
        return [{"relid": r.oid, "schemaname": ns[r.namespace], "relname": r.name, "seq_scan": 0,
                 "seq_tup_read": 0, "n_tup_ins": 0, "n_tup_upd": 0, "n_tup_del": 0, "n_tup_hot_upd": 0,
                 "n_live_tup": 0, "n_dead_tup": 0, "n_mod_since_analyze": 0, "n_ins_since_vacuum": 0,
                 "vacuum_count": 0, "autovacuum_count": 0, "analyze_count": 0, "autoanalyze_count": 0}
                for r in rels]

    def pg_stat_user_tables(self) -> list[dict]:
        return self._stat_tables(True)

    def pg_stat_all_tables(self) -> list[dict]:
        return self._stat_tables(False)

    def pg_stat_activity(self) -> list[dict]:
        """This session only: other connections live in the wire layer, which the planner cannot see."""
        if self.backend_pid is None:
            return []
        return [{"datid": DATABASE_OID, "datname": self.database, "pid": self.backend_pid, "leader_pid": None,
                 "usesysid": OWNER_OID, "usename": self.user,
                 "application_name": self.settings.get("application_name", ""), "client_port": None,
                 "state": "active", "backend_xid": None, "backend_xmin": None, "query_id": None,
                 "backend_type": "client backend"}]

    def pg_stat_database(self) -> list[dict]:
        return [{"datid": DATABASE_OID, "datname": self.database, "numbackends": 1}]

    # --- information_schema rows -----------------------------------------------------------------
    def is_schemata(self) -> list[dict]:
        return [{"catalog_name": self.database, "schema_name": n, "schema_owner": self.user}
                for _, n, _ in NAMESPACES]

    def is_tables(self, relations: list[Relation] | None = None) -> list[dict]:
        ns = {o: n for o, n, _ in NAMESPACES}
        return [{"table_catalog": self.database, "table_schema": ns[r.namespace], "table_name": r.name,
                 "table_type": "BASE TABLE" if r.kind == "r" else "VIEW", "is_insertable_into": "YES"
                 if r.kind == "r" else "NO", "is_typed": "NO", "commit_action": None}
                for r in (self.relations if relations is None else relations)]

    def is_views(self) -> list[dict]:
        ns = {o: n for o, n, _ in NAMESPACES}
        return [{"table_catalog": self.database, "table_schema": ns[r.namespace], "table_name": r.name,
                 "view_definition": None, "check_option": "NONE", "is_updatable": "NO",
                 "is_insertable_into": "NO", "is_trigger_updatable": "NO", "is_trigger_deletable": "NO",
                 "is_trigger_insertable_into": "NO"} for r in self.relations if r.kind == "v"]

    def is_columns(self, relations: list[Relation] | None = None) -> list[dict]:
        from pgmkts.planner.catalog.functions import format_type_name, info_schema_data_type

        ns = {o: n for o, n, _ in NAMESPACES}
        rows = []
        for r in self.relations if relations is None else relations:
            for i, c in enumerate(r.columns, 1):
                t = TYPE_ROWS.get(c.type_oid)
                numeric = {21: (16, 0), 23: (32, 0), 20: (64, 0), 700: (24, None), 701: (53, None)}.get(c.type_oid)
                rows.append({
                    "table_catalog": self.database, "table_schema": ns[r.namespace], "table_name": r.name,
                    "column_name": c.name, "ordinal_position": i, "column_default": None,
                    "is_nullable": "NO" if c.not_null else "YES", "data_type": info_schema_data_type(c.type_oid),
                    "numeric_precision": numeric[0] if numeric else None,
                    "numeric_precision_radix": 2 if numeric else None,
                    "numeric_scale": numeric[1] if numeric else None,
                    "datetime_precision": 6 if c.type_oid in (1082, 1083, 1114, 1184, 1186, 1266) else None,
                    "udt_catalog": self.database, "udt_schema": "pg_catalog",
                    "udt_name": t[1] if t else format_type_name(c.type_oid),
                    "dtd_identifier": str(i), "is_self_referencing": "NO", "is_identity": "NO",
                    "identity_cycle": "NO", "is_generated": "NEVER", "is_updatable": "YES" if r.kind == "r" else "NO",
                    "collation_name": None,
                })
        return rows

    def is_routines(self) -> list[dict]:
        from pgmkts.planner.catalog.functions import info_schema_data_type

        return [{"specific_catalog": self.database, "specific_schema": "pg_catalog",
                 "specific_name": f"{p['proname']}_{p['oid']}", "routine_catalog": self.database,
                 "routine_schema": "pg_catalog", "routine_name": p["proname"], "routine_type": "FUNCTION",
                 "data_type": info_schema_data_type(p["prorettype"]), "routine_body": "EXTERNAL",
                 "external_language": "INTERNAL", "is_deterministic": "NO", "security_type": "INVOKER"}
                for p in self.pg_proc()]

    def is_enabled_roles(self) -> list[dict]:
        return [{"role_name": self.user}]

    def is_character_sets(self) -> list[dict]:
        return [{"character_set_name": "UTF8", "character_repertoire": "UCS", "form_of_use": "UTF8",
                 "default_collate_catalog": self.database, "default_collate_name": "C.UTF-8"}]

    # relations whose rows are "one per relation": the system part is cached (sqlrun), the user part not
    SPLIT = {("pg_catalog", "pg_class"): "pg_class", ("pg_catalog", "pg_type"): "pg_type", ("pg_catalog", "pg_attribute"): "pg_attribute",
             ("information_schema", "columns"): "is_columns", ("information_schema", "tables"): "is_tables"}

    def split_rows(self, schema: str, name: str, system: bool) -> list[dict]:
        fn = getattr(self, self.SPLIT[(schema, name)])
        return fn(self.system_relations if system else self.user_relations)

    def rows(self, schema: str, name: str) -> list[dict] | None:
        """Rows of a catalog relation, [] for one we keep empty, None if it is not a catalog relation."""
        if schema == "information_schema":
            if name not in pgdata.INFORMATION_SCHEMA_COLUMNS:
                return None
            fn = getattr(self, "is_" + name, None)
        else:
            if name not in pgdata.PG_CATALOG_COLUMNS:
                return None
            fn = getattr(self, name, None)
        return fn() if fn else []


def columns_of(schema: str, name: str) -> list[tuple[str, int]] | None:
    if schema == "information_schema":
        return pgdata.INFORMATION_SCHEMA_COLUMNS.get(name)
    return pgdata.PG_CATALOG_COLUMNS.get(name)
