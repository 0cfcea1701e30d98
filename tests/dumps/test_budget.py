"""Memory bounded by the job, not by the file: bombs are refused from their headers.

Each hostile archive is built here, byte by byte where ``numpy.savez`` would not write
it. A compressed member is written as one deflate block repeated (each ends with a
full flush, so the copies are independent), which builds a 512 MiB member in a
fraction of a second without holding it.
"""

from __future__ import annotations

import json
import pickle
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from attention_atlas.dumps.budget import (
    DEFAULT_MAX_MEMORY,
    map_job_bytes,
    parse_size,
    resolve_budget,
)
from attention_atlas.dumps.read import (
    MAX_MEMBERS,
    inspect_dump,
    load_any,
    load_dump,
    validate_projections,
)
from attention_atlas.dumps.stream import stream_dump, working_bytes
from attention_atlas.errors import AtlasError

MiB = 2**20
TOKENS = np.array(["[CLS]", "the", "cat", "[SEP]"])

#: Expanded size of the compressible bomb's ``attention`` (float16, 16384 x 16384).
BOMB_SIDE = 16384
BOMB_BYTES = 2 * BOMB_SIDE * BOMB_SIDE


# --------------------------------------------------------------------------- writing archives


def npy_header(shape: tuple[int, ...], descr: str, fortran: bool = False) -> bytes:
    """The bytes of a version 1.0 ``.npy`` header declaring ``shape`` and ``descr``."""
    import io

    out = io.BytesIO()
    header = {"descr": descr, "fortran_order": fortran, "shape": shape}
    np.lib.format.write_array_header_1_0(out, header)
    return out.getvalue()


def npy(array: np.ndarray) -> bytes:
    import io

    out = io.BytesIO()
    np.lib.format.write_array(out, array, allow_pickle=False)
    return out.getvalue()


class Member:
    """One zip member: its raw deflate stream (or stored bytes), CRC-32 and sizes."""

    def __init__(self, name: str, data: bytes, crc: int, size: int, method: int) -> None:
        self.name, self.data, self.crc, self.size, self.method = name, data, crc, size, method

    @classmethod
    def stored(cls, name: str, raw: bytes) -> Member:
        return cls(name, raw, zlib.crc32(raw), len(raw), 0)

    @classmethod
    def repeated(cls, name: str, head: bytes, block: bytes, times: int) -> Member:
        """``head`` then ``block`` ``times`` times, deflated in time O(len(block))."""

        def flushed(data: bytes) -> bytes:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)

        body = flushed(block)
        end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # the final, empty block
        crc = zlib.crc32(head)
        for _ in range(times):
            crc = zlib.crc32(block, crc)
        stream = flushed(head) + body * times + end
        return cls(name, stream, crc, len(head) + len(block) * times, 8)


def write_zip(path: Path, members: list[Member]) -> Path:
    """A zip archive of ``members`` as they are (names repeated if given twice)."""
    local, central = bytearray(), bytearray()
    for m in members:
        name = m.name.encode()
        offset = len(local)
        sizes = (m.crc, len(m.data), m.size, len(name))
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, m.method, 0, 33, *sizes, 0)
        local += name + m.data
        central += struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, m.method, 0, 33, *sizes, 0, 0, 0, 0, 0, offset
        )
        central += name
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(local), 0
    )
    path.write_bytes(bytes(local + central + end))
    return path


def tokens_member(count: int) -> Member:
    return Member.stored("tokens.npy", npy(np.array([f"t{i}" for i in range(count)])))


def compressible_bomb(path: Path) -> Path:
    """A uniform float16 map of 16384 x 16384 (512 MiB) in an archive of about 0.6 MB."""
    row = np.full(BOMB_SIDE, 1.0 / BOMB_SIDE, dtype=np.float16).tobytes()
    head = npy_header((1, 1, BOMB_SIDE, BOMB_SIDE), "<f2")
    attention = Member.repeated("attention.npy", head, row * 64, BOMB_SIDE // 64)
    return write_zip(path, [attention, tokens_member(BOMB_SIDE)])


def huge_header(path: Path) -> Path:
    """A 16 KB archive whose ``attention`` header declares 80 GB of float32 (and no data)."""
    head = npy_header((20, 1000, 1000, 1000), "<f4")
    return write_zip(path, [Member.stored("attention.npy", head), tokens_member(1000)])


def longer_than_declared(path: Path) -> Path:
    """A 4 x 4 map whose member goes on with 256 MiB of zeros after its 128 bytes."""
    head = npy_header((4, 4), "<f8") + np.full((4, 4), 0.25).tobytes()
    attention = Member.repeated("attention.npy", head, bytes(MiB), 256)
    return write_zip(path, [attention, Member.stored("tokens.npy", npy(TOKENS))])


class Evil:
    def __reduce__(self) -> tuple[Callable[..., object], tuple[str]]:
        return (print, ("pickle ran",))


def object_header(path: Path) -> Path:
    """A member whose header declares an object array, followed by a pickle that prints."""
    raw = npy_header((4, 4), "|O") + pickle.dumps(Evil())
    return write_zip(
        path, [Member.stored("attention.npy", raw), Member.stored("tokens.npy", npy(TOKENS))]
    )


def not_npy_member(path: Path) -> Path:
    good = [Member.stored("attention.npy", npy(np.full((4, 4), 0.25))), tokens_member(4)]
    return write_zip(path, [*good, Member.stored("notes.txt", b"hello\n")])


# --------------------------------------------------------------------------- running the CLI

#: Runs the command given on its command line as its only child and prints its exit
#: code, stderr and peak resident memory (KiB, from RUSAGE_CHILDREN) as JSON.
MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({
    "code": done.returncode,
    "stderr": done.stderr,
    "seconds": time.perf_counter() - start,
    "peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
}))
"""


def run_measured(*args: str, cwd: Path) -> dict[str, object]:
    """``python -m attention_atlas ARGS`` with its exit code, stderr, time and peak memory."""
    command = [sys.executable, "-c", MEASURE, sys.executable, "-m", "attention_atlas", *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=True)
    return dict(json.loads(done.stdout))


def one_line(stderr: object) -> str:
    text = str(stderr).strip()
    assert text.count("\n") == 0, text
    assert "Traceback" not in text, text
    return text


# --------------------------------------------------------------------------- bombs


BOMBS: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "512 MiB float16 map in 0.6 MB": (
        compressible_bomb,
        ("field 'attention'", "(1, 1, 16384, 16384)", "float16", "needs", "budget of 2 GiB"),
    ),
    "80 GB header": (
        huge_header,
        ("field 'attention'", "(20, 1000, 1000, 1000)", "float32", "needs", "--max-memory"),
    ),
    "data longer than its header": (
        longer_than_declared,
        ("field 'attention'", "(4, 4)", "more data than its header declares"),
    ),
    "object dtype header": (object_header, ("field 'attention'", "pickled", "never loaded")),
    "member that is not .npy": (not_npy_member, ("'notes.txt'", "not a .npy array")),
}


@pytest.mark.parametrize("case", list(BOMBS))
def test_report_refuses_a_bomb_in_one_line_with_little_memory(tmp_path: Path, case: str) -> None:
    make, expected = BOMBS[case]
    path = make(tmp_path / "bomb.npz")
    result = run_measured("report", str(path), "--out", str(tmp_path / "site"), cwd=tmp_path)
    message = one_line(result["stderr"])
    assert result["code"] == 2, message
    assert message.startswith(f"error: {path}:"), message
    for part in expected:
        assert part in message, message
    assert "pickle ran" not in message
    assert not (tmp_path / "site").exists()
    # The interpreter with NumPy takes about 40 MiB; nothing of the bomb is expanded.
    peak = int(str(result["peak_kib"])) * 1024
    assert peak < 160 * MiB, f"{peak / MiB:.0f} MiB resident"


def test_the_compressible_bomb_is_what_it_claims(tmp_path: Path) -> None:
    path = compressible_bomb(tmp_path / "bomb.npz")
    assert path.stat().st_size < 1_000_000
    plan = inspect_dump(path, max_memory="1T")
    assert plan.fields["attention"].nbytes == BOMB_BYTES
    assert plan.need >= map_job_bytes(BOMB_SIDE * BOMB_SIDE, 1) > 15 * BOMB_BYTES


def test_an_80_gb_header_is_refused_in_well_under_a_second(tmp_path: Path) -> None:
    path = huge_header(tmp_path / "huge.npz")
    assert path.stat().st_size < 20_000
    start = time.perf_counter()
    with pytest.raises(AtlasError, match=r"field 'attention' \(20, 1000, 1000, 1000\) float32"):
        load_dump(path)
    assert time.perf_counter() - start < 0.5


def test_data_shorter_than_its_header_is_refused(tmp_path: Path) -> None:
    raw = npy_header((4, 4), "<f8") + np.full(8, 0.25).tobytes()  # 8 of 16 values
    path = write_zip(
        tmp_path / "short.npz", [Member.stored("attention.npy", raw), tokens_member(4)]
    )
    with pytest.raises(
        AtlasError, match=r"'attention' \(4, 4\) float64: data ends after 64 of 128"
    ):
        load_dump(path)


def test_longer_data_is_refused_after_reading_only_what_was_declared(tmp_path: Path) -> None:
    path = longer_than_declared(tmp_path / "long.npz")
    start = time.perf_counter()
    with pytest.raises(AtlasError, match="more data than its header declares"):
        load_dump(path)
    assert time.perf_counter() - start < 0.5  # 256 MiB were not inflated


@pytest.mark.parametrize("field", ["attention", "tokens", "key_tokens", "q", "scale"])
def test_an_object_header_is_refused_in_any_field(
    tmp_path: Path, field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fields = {"tokens": npy(TOKENS), "key_tokens": npy(TOKENS)}
    if field in ("q", "scale"):
        fields |= {"q": npy(np.ones((4, 2))), "k": npy(np.ones((4, 2))), "scale": npy(np.ones(1))}
    else:
        fields["attention"] = npy(np.full((4, 4), 0.25))
    fields[field] = npy_header((4,), "|O") + pickle.dumps(Evil())
    members = [Member.stored(f"{name}.npy", raw) for name, raw in fields.items()]
    path = write_zip(tmp_path / "obj.npz", members)
    with pytest.raises(AtlasError, match=rf"field '{field}'.*pickled"):
        load_any(path)
    assert "pickle ran" not in capsys.readouterr().out


def test_a_structured_dtype_is_refused(tmp_path: Path) -> None:
    pairs = np.zeros((4, 4), dtype=[("a", "<f4"), ("b", "<f4")])
    path = write_zip(
        tmp_path / "rec.npz", [Member.stored("attention.npy", npy(pairs)), tokens_member(4)]
    )
    with pytest.raises(AtlasError, match=r"field 'attention': expected real numbers"):
        load_dump(path)


def test_a_member_listed_twice_is_refused(tmp_path: Path) -> None:
    small = Member.stored("attention.npy", npy(np.full((4, 4), 0.25)))
    path = write_zip(tmp_path / "twice.npz", [small, small, tokens_member(4)])
    with pytest.raises(AtlasError, match="field 'attention' is stored twice"):
        load_dump(path)


def test_an_archive_listing_many_members_is_refused_before_they_are_read(tmp_path: Path) -> None:
    members = [Member.stored(f"f{i}.npy", b"") for i in range(MAX_MEMBERS + 1)]
    path = write_zip(tmp_path / "many.npz", members)
    with pytest.raises(AtlasError, match=f"lists {MAX_MEMBERS + 1} members"):
        load_dump(path)


def test_a_header_declaring_a_negative_axis_is_refused(tmp_path: Path) -> None:
    raw = npy_header((4, 4), "<f8").replace(b"(4, 4)", b"(4,-4)")
    path = write_zip(tmp_path / "neg.npz", [Member.stored("attention.npy", raw), tokens_member(4)])
    with pytest.raises(AtlasError, match="impossible shape"):
        load_dump(path)


def test_a_token_bomb_is_refused_naming_the_tokens(tmp_path: Path) -> None:
    tokens = Member.stored("tokens.npy", npy_header((4,), "<U100000000"))  # 1.6 GB declared
    attention = Member.stored("attention.npy", npy(np.full((4, 4), 0.25)))
    path = write_zip(tmp_path / "tok.npz", [attention, tokens])
    with pytest.raises(AtlasError, match=r"field 'tokens' \(4,\) <U100000000 needs"):
        load_dump(path)


def test_token_counts_are_checked_from_the_headers(tmp_path: Path) -> None:
    head = npy_header((1, 1, 4096, 4096), "<f2")  # no data: refused before any is read
    path = write_zip(tmp_path / "n.npz", [Member.stored("attention.npy", head), tokens_member(5)])
    with pytest.raises(AtlasError, match="'tokens': 5 tokens, but attention shaped"):
        load_dump(path, max_memory="1T")


def test_a_query_key_bomb_is_refused_naming_k(tmp_path: Path) -> None:
    q = Member.stored("q.npy", npy(np.ones((1, 1, 4, 8), dtype=np.float16)))
    k = Member.stored("k.npy", npy_header((1, 1, 2**31, 8), "<f2"))
    keys = Member.stored("key_tokens.npy", npy_header((2**31,), "<U1"))
    path = write_zip(tmp_path / "qk.npz", [q, k, Member.stored("tokens.npy", npy(TOKENS)), keys])
    with pytest.raises(AtlasError, match=r"field '(k' \(1, 1, |key_tokens' \()2147483648.*needs"):
        load_any(path)


# --------------------------------------------------------------------------- the budget


def test_fortran_ordered_arrays_load_as_numpy_would(tmp_path: Path) -> None:
    weights = np.asfortranarray(np.random.default_rng(1).dirichlet(np.ones(5), size=5))
    path = tmp_path / "f.npz"
    np.savez_compressed(path, attention=weights, tokens=np.array(list("abcde")))
    assert inspect_dump(path).fields["attention"].fortran_order
    np.testing.assert_array_equal(load_dump(path).attention[0, 0], weights)


def test_the_budget_is_raised_with_max_memory(tmp_path: Path) -> None:
    path = tmp_path / "run.npz"
    np.savez(
        path,
        attention=np.full((2, 3, 64, 64), 1 / 64, dtype=np.float32),
        tokens=np.arange(64).astype(str),
    )
    need = inspect_dump(path).need
    with pytest.raises(AtlasError) as info:
        load_dump(path, max_memory=need - 1)
    message = str(info.value)
    assert "field 'attention' (2, 3, 64, 64) float32 needs" in message
    assert "--max-memory" in message and "max_memory=" in message
    assert load_dump(path, max_memory=need).attention.shape == (2, 3, 64, 64)
    assert load_any(path, max_memory=f"{need}").heads == 3


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512M", 512 * MiB),
        ("4G", 4 * 2**30),
        ("1.5GiB", 3 * 2**29),
        ("2147483648", 2**31),
        ("64k", 64 * 1024),
        ("2 GB", 2 * 2**30),
        ("1t", 2**40),
        ("100B", 100),
    ],
)
def test_sizes_are_read_in_binary_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "abc", "0", "0G", "-1G", "1.5", "4X", "G", "1e9", "nan"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(AtlasError, match="512M"):
        parse_size(text)


def test_the_default_budget_and_api_values() -> None:
    assert resolve_budget(None) == DEFAULT_MAX_MEMORY == 2 * 2**30
    assert resolve_budget(1000) == 1000
    assert resolve_budget("1K") == 1024
    for bad in (0, -5, True, 1.5):
        with pytest.raises(AtlasError, match="max_memory"):
            resolve_budget(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", ["report", "export"])
@pytest.mark.parametrize("value", ["12Q", "0", "-1"])
def test_a_bad_max_memory_flag_is_a_one_line_usage_error(
    tmp_path: Path, command: str, value: str
) -> None:
    extra = ["--format", "json", "--out", "x.json"] if command == "export" else []
    args = [command, "x.npz", *extra, f"--max-memory={value}"]
    done = subprocess.run(
        [sys.executable, "-m", "attention_atlas", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    message = one_line(done.stderr)
    assert done.returncode == 2, message
    assert "--max-memory" in message and "512M" in message


def test_export_of_a_dump_respects_max_memory(tmp_path: Path) -> None:
    path = tmp_path / "run.npz"
    np.savez(path, attention=np.full((4, 4), 0.25), tokens=TOKENS)
    out = tmp_path / "map.json"
    done = subprocess.run(
        [sys.executable, "-m", "attention_atlas", "export", str(path), "--format", "json",
         "--out", str(out), "--max-memory", "1M"],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    message = one_line(done.stderr)
    assert done.returncode == 2, message
    assert "field 'attention' (4, 4) float64 needs" in message
    assert "budget of 1 MiB" in message
    assert not out.exists()


def test_build_report_takes_max_memory_and_writes_nothing_over_it(tmp_path: Path) -> None:
    from attention_atlas.dumps.report import build_report

    path = tmp_path / "run.npz"
    np.savez(path, attention=np.full((4, 4), 0.25), tokens=TOKENS)
    with pytest.raises(AtlasError, match="over the budget of 1 MiB"):
        build_report(path, out=tmp_path / "site", max_memory="1M")
    assert not (tmp_path / "site").exists()


# --------------------------------------------------------------------------- streaming


def test_stream_dump_respects_the_budget_for_its_working_memory() -> None:
    m = 2**20  # one query against a million keys: the score buffer is a whole row
    keys = np.array(["k"] * m)
    dump = validate_projections(np.ones((1, 1)), np.ones((m, 1)), TOKENS[:1], keys)
    need = dump.q.nbytes + dump.k.nbytes + working_bytes(1, 1, 1, m, 1)
    assert need > 8 * MiB
    with pytest.raises(AtlasError, match=r"streaming 1 head\(s\) of q .* needs"):
        stream_dump(dump, max_memory=need - 1)
    views = stream_dump(dump, max_memory=need)
    assert views[0].maximum.shape == (1, 128)


def test_the_working_memory_grows_with_the_heads_kept_and_the_longest_row() -> None:
    one = working_bytes(1, 1, 4096, 4096, 64)
    assert working_bytes(2, 8, 4096, 4096, 64) > one
    assert working_bytes(1, 1, 1, 2**26, 1) >= 4 * 2**26  # a row of 64 M keys in float32


def _address_space(limit: int) -> Callable[[], None]:
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def test_a_budget_above_what_the_machine_has_fails_in_one_line(tmp_path: Path) -> None:
    path = huge_header(tmp_path / "huge.npz")
    done = subprocess.run(
        [sys.executable, "-m", "attention_atlas", "report", str(path), "--max-memory", "1T"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        preexec_fn=_address_space(4 * 2**30),  # 4 GiB of address space: 80 GB cannot fit
    )
    message = one_line(done.stderr)
    assert done.returncode == 2, message
    assert "field 'attention' (20, 1000, 1000, 1000) float32: cannot allocate 74.5 GiB" in message
