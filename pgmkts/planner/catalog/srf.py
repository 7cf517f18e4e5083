"""Set-returning functions in a select list (unnest, generate_subscripts, _pg_expandarray) lifted into
FROM, for SQLite, which only has table-valued functions there."""

from __future__ import annotations

from sqlglot import exp

from pgmkts.planner.catalog.sqlnodes import INT4, RECORD, TEXT, Source, _fn, _is_expandarray, elem_of


class SrfMixin:
    """Mixed into the Translator: needs its `expr`, `_n` and `_lifted`."""

    _n: int
    _lifted: dict[str, tuple[exp.Expression, int]]

    def expr(self, e, scope, loose=False):  # pragma: no cover - provided by the Translator
        raise NotImplementedError

    def _lift_srfs(self, q: exp.Select, frame: list[Source], scope) -> None:
        """unnest()/generate_subscripts() in the select list (SQLAlchemy's index reflection) become one
        json_each() in FROM; further SRFs of the same row are read in lock-step by position, as
        PostgreSQL 10+ runs several SRFs in one target list."""
        srfs: list[exp.Expression] = []

        def visit(node: exp.Expression) -> None:
            if isinstance(node, (exp.Subquery, exp.Select, exp.Query)):
                return                  # a sub-query's SRFs are its own
            if isinstance(node, exp.Dot) and _is_expandarray(node.expression):
                srfs.append(node)
                return
            if isinstance(node, (exp.Explode, exp.Unnest)) or _is_expandarray(node) or (
                    isinstance(node, exp.Anonymous) and str(node.this).lower() == "generate_subscripts"):
                srfs.append(node)
                return
            for child in node.iter_expressions():
                visit(child)
        for p in q.expressions:
            visit(p)
        if not srfs:
            return
        alias = f"_srf{self._n}"
        self._n += 1
        srfs = [n.expression if isinstance(n, exp.Dot) else n for n in srfs]
        first = srfs[0]
        first_arg = first.this if isinstance(first, exp.Explode) else first.expressions[0]
        arr0, t0 = self.expr(first_arg.copy(), scope)
        q.append("joins", exp.Join(this=exp.Table(this=_fn("json_each", arr0),
                                                  alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))))
        key = exp.column("key", alias, quoted=True)
        for node in srfs:
            repl: exp.Expression
            if _is_expandarray(node):     # pgjdbc's getPrimaryKeys: a record (x = element, n = position)
                arr, t = self.expr(node.expressions[0].copy(), scope)
                elem = (exp.column("value", alias, quoted=True) if node is first
                        else _fn("_pg_subscript", arr, key, exp.Literal.number(0)))
                repl = _fn("json_object", exp.Literal.string("x"), elem, exp.Literal.string("n"),
                           exp.Add(this=key, expression=exp.Literal.number(1)))
                rt = RECORD
            elif isinstance(node, exp.Anonymous):       # generate_subscripts(arr, 1): PostgreSQL's subscript
                arr, t = self.expr(node.expressions[0].copy(), scope)
                base = 0 if t in (22, 30) else 1
                repl = exp.Add(this=key, expression=exp.Literal.number(base))
                rt = INT4
            else:
                arg = node.this if isinstance(node, exp.Explode) else node.expressions[0]
                arr, t = self.expr(arg.copy(), scope)
                repl = (exp.column("value", alias, quoted=True) if node is first
                        else _fn("_pg_subscript", arr, key, exp.Literal.number(0)))
                rt = elem_of(t)
            marker = exp.Var(this=f"__srf_{id(repl)}")
            self._lifted[marker.name] = (repl, rt)
            target = node.parent if isinstance(node.parent, exp.Dot) and _is_expandarray(node) else node
            target.replace(marker)
        frame.append(Source(alias, []))

    def _x_var(self, e, scope, loose):
        if e.name in self._lifted:
            return self._lifted[e.name]
        return e, TEXT
