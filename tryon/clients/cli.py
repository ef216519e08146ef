"""``tryon``: the command-line client.

    tryon run PERSON GARMENT -o out.png [--bottom BOTTOMS] [--server URL] [--category upper_body] [--api-key KEY]
              [--quality 1-100] [--num-samples 1-4]
    tryon doctor [--json FILE] [--device cuda] [--batches 1 4 8] [--steps 30] [--compile]

``run`` shows the job's steps on a progress bar (stderr), writes the result (a PNG, or JPEG for
``-o out.jpg``, WebP for ``-o out.webp``; with ``--num-samples N`` also ``out-2.jpg`` ... ``out-N.jpg``), and exits 0. Exits 1
with the server's reason when the photos are refused or the job fails, 2 for a usage or local file
error, 3 when the server cannot be reached or the job does not finish in time, 130 on Ctrl-C
(the job goes on on the server).

``doctor`` checks this host's FASHN VTON model in process (no server; ``tryon.doctor``): one line per
check, exit 1 when any check fails.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TextIO

import requests

from .. import __version__
from ..doctor.report import SECTIONS, TABLE_HEADER, summary, table_line
from ..engines.base import Category
from .api_client import TryOnClient, TryOnFailed, TryOnTimeout, format_for_path, is_url, picture_size

DEFAULT_SERVER = "http://localhost:8000"  # the port the README serves on (`bentoml serve --port 8000`)
CATEGORIES = tuple(category.value for category in Category)
EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 1, 2, 3, 130
BAR_WIDTH = 10


class ProgressBar:
    """``[#####.....]  55% inpainting`` on one line of a terminal; one line per change elsewhere."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self._width = 0
        self._last = ""

    def update(self, body: dict) -> None:
        status = body.get("status", "")
        if status == "failed":  # the reason is printed next; the bar stays where it stopped
            return
        progress = int(body.get("progress") or 0)
        label = {"pending": "queued", "completed": "done"}.get(status) or body.get("step") or status
        filled = round(progress * BAR_WIDTH / 100)
        line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {progress:3d}% {label}"
        if line == self._last:  # e.g. step "done" (100) and then status "completed"
            return
        self._last = line
        if self.live:
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.live and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


def photo_argument(value: str) -> str | Path:
    """A photo on the command line: an http(s) URL stays a string (the server fetches it), else a path."""
    return value if is_url(value) else Path(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tryon", description="Client of the virtual try-on service.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="dress the person in the garment and write the result (PNG, JPEG or WebP)",
        description="Submit a person photo and a garment photo, follow the job, write the result.",
    )
    run.add_argument(
        "person", type=photo_argument, metavar="PERSON", help="photo of the person (JPG/PNG/WEBP), or its http(s) URL"
    )
    run.add_argument(
        "garment", type=photo_argument, metavar="GARMENT", help="photo of the garment (JPG/PNG/WEBP), or its http(s) URL"
    )
    run.add_argument(
        "-o", "--output", type=Path, required=True,
        help="where to write the result; its suffix picks the format: .jpg/.jpeg JPEG, .webp WebP, else PNG",
    )
    run.add_argument("--quality", type=int, choices=range(1, 101), metavar="1-100", help="JPEG or WebP quality (default 90)")
    run.add_argument(
        "--num-samples", type=int, choices=range(1, 5), metavar="1-4",
        help="pictures to make (default 1): OUT, then OUT-2 ... beside it",
    )
    run.add_argument(
        "--bottom",
        type=photo_argument,
        metavar="BOTTOMS",
        help="a whole outfit: trousers, shorts or a skirt worn under GARMENT (the top), or its http(s) URL",
    )
    run.add_argument(
        "--server",
        default=os.environ.get("TRYON_SERVER", DEFAULT_SERVER),
        help=f"base URL of the service (default: $TRYON_SERVER, else {DEFAULT_SERVER})",
    )
    run.add_argument(
        "--category", choices=CATEGORIES, help="the garment's category (default: the server decides, auto)"
    )
    run.add_argument(
        "--api-key",
        default=os.environ.get("TRYON_API_KEY"),
        help="sent as 'Authorization: Bearer KEY' (default: $TRYON_API_KEY)",
    )
    run.add_argument("--timeout", type=float, default=600, help="seconds to wait for the job (default 600)")
    run.add_argument("--poll", type=float, default=0.5, help="seconds between polls (default 0.5)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_doctor_parser(commands)
    return parser


def add_doctor_parser(commands: argparse._SubParsersAction) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="check this host's FASHN VTON model: environment, checksums, numerics, speed, a try-on",
        description="Run the stored FASHN VTON model on this host (no server) and report one line per check; "
        "exits 1 when a check fails. Defaults: on a GPU, 30 steps and batches 1 4 8; on the CPU, 1 step "
        "and batches 1 4 (for the test models).",
    )
    doctor.add_argument("--device", help="cuda, cuda:N or cpu (default: cuda when this process sees it)")
    doctor.add_argument("--batches", type=int, nargs="+", metavar="N", help="batch sizes to time")
    doctor.add_argument("--steps", type=int, help="timed denoising steps per batch size, and the try-on's steps")
    doctor.add_argument("--compile", action="store_true", help="also time the torch.compile'd transformer")
    doctor.add_argument("--json", type=Path, metavar="FILE", help="write every check and its figures as JSON")
    doctor.add_argument("--output", type=Path, help="the example try-on's PNG (default: tryon-doctor.png)")
    doctor.add_argument("--person", type=Path, help="person photo of the try-on (default: examples/person.jpg)")
    doctor.add_argument("--garment", type=Path, help="flat-lay garment photo (default: examples/shirt.jpg)")
    doctor.add_argument("--only", nargs="+", choices=SECTIONS, metavar="SECTION", help=f"run only these: {', '.join(SECTIONS)}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "doctor":
        return doctor_command(args, stdout=sys.stdout, stderr=sys.stderr)
    return run_command(args, stderr=sys.stderr)


def doctor_command(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    """Print each check as it completes, then the summary; write ``--json``; 1 when a check failed."""
    if args.steps is not None and args.steps < 1 or args.batches and min(args.batches) < 1:
        print("tryon doctor: --steps and --batches must be at least 1", file=stderr)
        return EXIT_USAGE
    for path in (args.json, args.output):
        if path is not None and not path.parent.is_dir():
            print(f"tryon doctor: {path.parent}: no such directory", file=stderr)
            return EXIT_USAGE
    from ..doctor.run import default_options, run_doctor

    options = default_options(
        args.device,
        batches=tuple(args.batches) if args.batches else None,
        steps=args.steps,
        compile=args.compile or None,
        output=args.output,
        person=args.person,
        garment=args.garment,
        sections=tuple(args.only) if args.only else None,
    )
    print(TABLE_HEADER, file=stdout, flush=True)
    report = run_doctor(options, on_check=lambda check: print(table_line(check), file=stdout, flush=True))
    print(f"tryon doctor: {summary(report.checks)} in {report.seconds:.1f} s", file=stdout)
    if args.json is not None:
        report.write_json(args.json)
        print(f"tryon doctor: wrote {args.json}", file=stdout)
    return EXIT_FAILED if report.failed else 0


def run_command(args: argparse.Namespace, *, stderr: TextIO) -> int:
    for path in (args.person, args.garment, *([args.bottom] if args.bottom else [])):
        if not is_url(path) and not path.is_file():
            print(f"tryon: {path}: no such file", file=stderr)
            return EXIT_USAGE
    if not args.output.parent.is_dir():
        print(f"tryon: {args.output.parent}: no such directory for the output", file=stderr)
        return EXIT_USAGE

    bar = None if args.quiet else ProgressBar(stderr)
    job_id = None
    with TryOnClient(args.server, api_key=args.api_key) as client:
        try:
            job_id = client.submit(
                args.person, args.garment, category=args.category, bottom_path=args.bottom,
                num_samples=args.num_samples, output_format=format_for_path(args.output), output_quality=args.quality,
            )
            final = client.wait(
                job_id,
                on_progress=bar.update if bar else None,
                poll_seconds=args.poll,
                timeout=args.timeout,
            )
            pictures = [client.result_picture(final, index) for index in range(len(final.get("results") or [None]))]
        except TryOnTimeout as error:
            _end(bar)
            print(f"tryon: {error.reason}", file=stderr)
            return EXIT_UNREACHABLE
        except TryOnFailed as error:
            _end(bar)
            job = f" (job {error.job_id})" if error.job_id else ""
            print(f"tryon: failed{job}: {error.reason}", file=stderr)
            return EXIT_FAILED
        except requests.RequestException as error:
            _end(bar)
            print(f"tryon: cannot reach the server at {args.server}: {error}", file=stderr)
            return EXIT_UNREACHABLE
        except KeyboardInterrupt:
            _end(bar)
            still = f"; job {job_id} goes on on the server" if job_id else ""
            print(f"tryon: interrupted{still}", file=stderr)
            return EXIT_INTERRUPTED
    _end(bar)
    for path, picture in zip(sample_paths(args.output, len(pictures)), pictures):
        path.write_bytes(picture)
        width, height = picture_size(picture)
        print(f"tryon: wrote {path} ({width}x{height}, job {job_id})", file=stderr)
    return 0


def sample_paths(output: Path, count: int) -> list[Path]:
    """Where each picture goes: ``output`` for the first, ``{stem}-{n}{suffix}`` beside it for picture n > 1."""
    return [output, *(output.with_name(f"{output.stem}-{number}{output.suffix}") for number in range(2, count + 1))]


def _end(bar: ProgressBar | None) -> None:
    if bar is not None:
        bar.end()


if __name__ == "__main__":
    sys.exit(main())
