"""The ``gaistd`` command: parses arguments, calls the library, prints. Exit codes: 0 ok, 1 findings, 2 error."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gaistd_kg.iris import ROOT


def _err(message: str) -> int:
    print(f"gaistd: error: {message}", file=sys.stderr)
    return 2


def cmd_build(args) -> int:
    from gaistd_kg.pipeline.build import UnsavedWrites, ValidationFailed, build
    from gaistd_kg.pipeline.load import LoadError
    from gaistd_kg.pipeline.reason import InconsistencyError

    progress = (lambda m: print(f"  {m}", file=sys.stderr)) if not args.quiet else None
    try:
        result = build(Path(args.root), Path(args.build_dir), force=args.force, progress=progress,
                       reasoner=args.reasoner, engine=args.engine)
    except LoadError as exc:
        return _err(f"{exc}\nThe previous store (if any) is unchanged.")
    except ValidationFailed as exc:
        print(exc.result.text(), file=sys.stderr)
        print("gaistd: build stopped: the data violates the shapes; the previous store (if any) is unchanged.",
              file=sys.stderr)
        return 1
    except InconsistencyError as exc:
        return _err(f"{exc}\nThe previous store (if any) is unchanged.")
    except UnsavedWrites as exc:
        return _err(f"{exc}\nThe store is unchanged.")
    except ValueError as exc:
        return _err(str(exc))
    for w in result.warnings:
        print(w, file=sys.stderr)
    if result.skipped:
        print(f"up to date (build {result.build_id}); nothing to do")
    else:
        t = result.timings
        print(f"built {result.build_id}: " + ", ".join(f"{k} {v} triples" for k, v in result.triples.items())
              + f" in {t['total']:.2f}s (parse {t['parse']:.2f}s, validate {t['validate']:.2f}s, "
              f"reason {t['reason']:.2f}s, store {t['store']:.2f}s; {result.engine} engine)")
    return 0


def cmd_validate(args) -> int:
    from gaistd_kg.pipeline.load import LoadError, find_inputs, load
    from gaistd_kg.pipeline.validate import validate

    try:
        inputs = find_inputs(Path(args.root))
        extra = [Path(f) for f in args.files if Path(f).resolve() not in {p.resolve() for p in inputs.data}]
        inputs.data += extra
        loaded = load(inputs)
        result = validate(loaded.data, loaded.shapes, loaded.ontology, loaded.subject_files, checks=inputs.checks_dir)
    except LoadError as exc:
        return _err(str(exc))
    if args.files:
        wanted = {Path(f).resolve() for f in args.files}
        mine = {str(s) for s, files in loaded.subject_files.items() if any(p.resolve() in wanted for p in files)}
        from gaistd_kg.iris import short

        short_mine = {short(__import__("rdflib").URIRef(s)) for s in mine}
        result.findings = [f for f in result.findings if f.focus in short_mine]
        result.conforms = not result.violations
    print(result.text())
    return 0 if result.conforms else 1


def _open(args):
    from gaistd_kg.store import StoreMissing, open_store

    try:
        return open_store(Path(args.build_dir))
    except StoreMissing as exc:
        raise SystemExit(_err(str(exc)))


def looks_like_file(text: str) -> bool:
    """A query argument naming a file rather than holding SPARQL: one word ending in .rq or .sparql."""
    return not any(c.isspace() for c in text.strip()) and text.strip().lower().endswith((".rq", ".sparql"))


def cmd_query(args) -> int:
    from .query import run_query, terminal_width

    text = args.query
    if text == "-":
        text = sys.stdin.read()
    elif looks_like_file(text):
        if not Path(text).is_file():
            return _err(f"no such file: {text}")
        text = Path(text).read_text(encoding="utf-8")
    from gaistd_kg.query import textsearch
    from gaistd_kg.query.engine import QueryError, QueryRefused, QuerySyntaxError

    opened = _open(args)
    try:
        run_query(opened.store, text, args.format, sys.stdout.buffer, limit=args.limit,
                  width=None if args.wide else terminal_width(),
                  functions=textsearch.functions_for(opened.path) if getattr(opened, "path", None) else None)
    except (SyntaxError, QuerySyntaxError) as exc:
        return _err(f"the query is not valid SPARQL: {exc}")
    except QueryRefused as exc:
        return _err(f"refused: {exc}")
    except (QueryError, ValueError) as exc:
        return _err(str(exc))
    return 0


def cmd_export(args) -> int:
    from gaistd_kg.views.export import export

    opened = _open(args)
    try:
        if args.output:
            with open(args.output, "wb") as fh:
                export(opened.store, fh, args.graph, args.format)
            print(f"wrote {args.output}", file=sys.stderr)
        else:
            export(opened.store, sys.stdout.buffer, args.graph, args.format)
    except ValueError as exc:
        return _err(str(exc))
    return 0


def cmd_stats(args) -> int:
    from gaistd_kg.views.stats import stats

    opened = _open(args)
    for title, rows in stats(opened.store):
        print(f"\n{title}")
        width = max((len(r[0]) for r in rows), default=0)
        for label, n in rows:
            print(f"  {label:<{width}}  {n:>6}")
    return 0


def cmd_serve(args) -> int:
    from gaistd_kg.web import create_app

    config = {"BUILD_DIR": str(Path(args.build_dir))}
    print(f"serving on http://{args.host}:{args.port}/ (SPARQL at /sparql); Ctrl-C stops", file=sys.stderr)
    if args.dev:  # Flask's server with its reloader: for working on the code, never for serving
        create_app(config).run(host=args.host, port=args.port, threaded=True, use_reloader=True)
        return 0
    from .serve import serve

    return serve(lambda: create_app(config), host=args.host, port=args.port, workers=args.workers,
                 threads=args.threads)


def cmd_report(args) -> int:
    from gaistd_kg.views.report import compute, write_report

    opened = _open(args)
    report = compute(opened.store, build_id=opened.build_id)
    written = write_report(report, Path(args.output), server=args.server or None)
    print(f"wrote {len(written)} files to {args.output}: report.html, report.md, and each table as CSV and JSON",
          file=sys.stderr)
    for f in report.findings:
        print(f"{f.id:<18} {f.verdict:<15} {f.evidence}")
    return 0


def cmd_explain(args) -> int:
    import json

    from gaistd_kg.views.explain import TermError, explain

    opened = _open(args)
    try:
        explanation = explain(opened.store, args.subject, args.property, args.object, max_depth=args.depth)
    except TermError as exc:
        return _err(str(exc))
    if args.json:
        print(json.dumps(explanation.as_json(), ensure_ascii=False, indent=2))
    else:
        print(explanation.text())
    return 0 if explanation.holds else 1


def cmd_push(args) -> int:
    import os

    from gaistd_kg.remote.push import PushError, push
    from gaistd_kg.remote.client import Client, HttpError
    from gaistd_kg.store import StoreMissing

    progress = (lambda m: print(f"  {m}", file=sys.stderr)) if not args.quiet else None
    client = Client(args.user or os.environ.get("GAISTD_PUSH_USER"), os.environ.get("GAISTD_PUSH_PASSWORD"))
    try:
        result = push(Path(args.build_dir), args.store_url, args.query_url, client=client, force=args.force,
                      timeout=args.timeout, progress=progress)
    except StoreMissing as exc:
        return _err(str(exc))
    except (PushError, HttpError, OSError) as exc:
        return _err(f"push stopped: {exc}")
    if result.skipped:
        print(f"up to date: {args.store_url} already serves build {result.build_id} (version {result.version})")
    else:
        print(f"pushed build {result.build_id} as version {result.version} ("
              + ", ".join(f"{k} {v}" for k, v in result.triples.items()) + " triples) in "
              f"{result.timings['total']:.2f}s; previous version {result.previous or 'none'} kept, "
              f"{len(result.dropped)} older dropped")
    return 0


def main(argv: list[str] | None = None) -> int:
    from gaistd_kg.store import DEFAULT_BUILD_DIR

    parser = argparse.ArgumentParser(prog="gaistd", description="Build, check, query and serve GAISTD-KG.")
    parser.add_argument("--root", default=str(ROOT), help="project folder with ontology/, shapes/, data/")
    parser.add_argument("--build-dir", default=str(DEFAULT_BUILD_DIR), help="where the store is built")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="parse, validate, reason and store the graph (skipped when nothing changed)")
    p.add_argument("--force", action="store_true", help="rebuild even when no input changed")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--reasoner", choices=("fast", "owlrl"), default="fast",
                   help="fast: OWL 2 RL rules run in Oxigraph (default, proven equal to owlrl); owlrl: the reference")
    p.add_argument("--engine", choices=("auto", "memory", "stream"), default="auto",
                   help="memory: the data as rdflib graphs; stream: the data stays in Oxigraph on disk (for data too "
                   "large for memory; same store); auto (default): stream above 48 MB of data files")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("validate", help="check data against the SHACL shapes; exit 0 conforms, 1 violations, 2 error")
    p.add_argument("files", nargs="*", help="data files to report on (default: all of data/)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("query", help="run SPARQL on the built store")
    p.add_argument("query", help="SPARQL text, a .rq file, or - for standard input")
    p.add_argument("-f", "--format", default="table",
                   help="table (default); json, xml, csv, tsv for SELECT/ASK; ttl, jsonld, nt, rdf, trig, nq for graphs")
    p.add_argument("--limit", type=int, default=None, help="at most this many rows in the table")
    p.add_argument("--wide", action="store_true",
                   help="print every cell whole (default: the table fits the terminal's width, or $COLUMNS; "
                        "output to a pipe or file is whole)")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("export", help="dump the dataset or one named graph")
    p.add_argument("-g", "--graph", default="full", help="full, asserted, inferred, or a named graph: ontology, data, meta")
    p.add_argument("-f", "--format", default="turtle", help="turtle, trig, ntriples, nquads, rdfxml, jsonld")
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("stats", help="triples per named graph, instances per class, documents per jurisdiction")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("serve", help="serve the built store with gunicorn (production settings); --dev: Flask's "
                                     "server with its reloader")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--workers", type=int, default=None, help="gunicorn worker processes (default: 2 per CPU, "
                                                              "at most 8)")
    p.add_argument("--threads", type=int, default=None, help="threads per worker (gthread worker class; default: "
                                                             "THREADS of gaistd_kg/web/serving.py)")
    p.add_argument("--dev", action="store_true", help="Flask's development server with the reloader")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("report", help="coverage and gap analysis: report.html (works offline), report.md, tables "
                                      "as CSV and JSON")
    p.add_argument("-o", "--output", default="report-out", help="folder to write (default: report-out)")
    p.add_argument("--server", default="http://127.0.0.1:8080",
                   help="base URL of a GAISTD-KG server for the report's 'run it' and explanation links "
                        "(default: that of `gaistd serve`; '' for none)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("explain", help="why a fact holds: asserted (graph, sources) or the axioms and facts that "
                                       "entail it; exit 1 when it does not hold")
    p.add_argument("subject", help="prefixed name (gdoc:gb-45438-2025) or IRI")
    p.add_argument("property", help="prefixed name (gaistd:addressesRisk), IRI, or a for rdf:type")
    p.add_argument("object", help='prefixed name, IRI, or literal ("2024-08-01"^^xsd:date)')
    p.add_argument("--json", action="store_true", help="the explanation as JSON")
    p.add_argument("--depth", type=int, default=16, help="at most this many steps deep (default 16)")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("push", help="load the built dataset into a SPARQL 1.1 Graph Store (new graph names, then an "
                                    "atomic switch of the pointer graph; see gaistd_kg/push.py)")
    p.add_argument("store_url", help="Graph Store Protocol endpoint (Virtuoso: http://host:8890/sparql-graph-crud)")
    p.add_argument("--query-url", default=None,
                   help="SPARQL query endpoint of the same store (default: STORE_URL; Virtuoso: …/sparql)")
    p.add_argument("--user", default=None, help="user for HTTP basic/digest authentication (or GAISTD_PUSH_USER); "
                                                "the password comes from GAISTD_PUSH_PASSWORD")
    p.add_argument("--force", action="store_true", help="push even when the remote already serves this build")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per HTTP request (default 600)")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_push)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
