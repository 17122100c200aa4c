import re
import zipfile

import pytest
from docx import Document

from services.repurposer.exports import (
    MAX_CUE_SECONDS,
    build_zip,
    clock,
    to_docx,
    to_markdown,
    to_srt,
    to_txt,
    to_vtt,
    wrap,
)
from services.repurposer.model import Chapter, Sentence, TranscriptDoc
from services.repurposer.sentences import sentences_from_text

CUE = re.compile(
    r"(\d\d):(\d\d):(\d\d)[,.](\d{3}) --> (\d\d):(\d\d):(\d\d)[,.](\d{3})\n((?:.+\n?)+)"
)


def parse_cues(text: str) -> list[tuple[float, float, list[str]]]:
    found = []
    for m in CUE.finditer(text):
        h1, m1, s1, ms1, h2, m2, s2, ms2 = (int(g) for g in m.groups()[:8])
        found.append((
            h1 * 3600 + m1 * 60 + s1 + ms1 / 1000,
            h2 * 3600 + m2 * 60 + s2 + ms2 / 1000,
            [line for line in m.group(9).splitlines() if line.strip()],
        ))  # fmt: skip
    return found


def chapters_of(sentences, size=8):
    return [
        Chapter(
            index=i, start=sentences[a].start, end=sentences[min(a + size, len(sentences)) - 1].end,
            title=f"Topic {i}", summary=f"About topic {i}.", sentence_start=a,
            sentence_end=min(a + size, len(sentences)) - 1,
        )
        for i, a in enumerate(range(0, len(sentences), size))
    ]  # fmt: skip


def check_captions(cues, sentences):
    assert cues
    text = " ".join(" ".join(lines) for _, _, lines in cues)
    assert text.split() == " ".join(s.text for s in sentences).split()
    previous_end = 0.0
    for start, end, lines in cues:
        assert previous_end <= start < end
        assert end - start <= MAX_CUE_SECONDS + 1e-6
        assert 1 <= len(lines) <= 2 and all(len(line) <= 42 for line in lines)
        previous_end = end


def test_srt_round_trips_with_monotonic_times_and_every_word(talk_sentences):
    srt = to_srt(talk_sentences)
    cues = parse_cues(srt)
    check_captions(cues, talk_sentences)
    numbers = re.findall(r"^(\d+)\n\d\d:", srt, re.M)
    assert [int(n) for n in numbers] == list(range(1, len(cues) + 1))
    # Cues are timed from the words: the first starts on the first word.
    assert cues[0][0] == pytest.approx(talk_sentences[0].words[0].start, abs=0.001)


def test_vtt_has_its_header_and_the_same_cues(talk_sentences):
    vtt = to_vtt(talk_sentences)
    assert vtt.startswith("WEBVTT\n\n")
    check_captions(parse_cues(vtt), talk_sentences)
    assert [c[:2] for c in parse_cues(vtt)] == [c[:2] for c in parse_cues(to_srt(talk_sentences))]


def test_long_sentences_split_on_time_as_well_as_length():
    # 10 words over 20 s: short enough for two lines, too long for one 7 s cue.
    slow = sentences_from_text(["One two three four five six seven eight nine ten."], [(0, 20)])
    cues = parse_cues(to_srt(slow))
    assert len(cues) == 4 and all(end - start <= 7.0 for start, end, _ in cues)
    # 24 words in 6 s: fast enough for one cue, too long for two lines.
    wordy = " ".join(["Coffee"] * 23 + ["grinds."])
    lines = [lines for _, _, lines in parse_cues(to_srt(sentences_from_text([wordy], [(0, 6)])))]
    assert len(lines) == 2 and all(len(x) <= 42 for cue in lines for x in cue)  # 6 words a line
    # A sentence without word timings still gets cues, spread over its span.
    bare = [Sentence(index=0, start=5.0, end=9.0, text="Spoken without word timings here.")]
    assert parse_cues(to_vtt(bare))[0][0] == 5.0


def test_lines_are_balanced_and_bounded():
    lines = wrap("The answer is mostly water temperature and the size of the grind.", 42, 2)
    assert lines is not None and len(lines) == 2 and all(len(x) <= 42 for x in lines)
    assert max(map(len, lines)) == 38  # the most even cut: 26 + 38 characters
    assert wrap("x " * 60, 42, 2) is None


def test_text_and_markdown_follow_the_chapters(talk_sentences):
    chapters = chapters_of(talk_sentences)
    txt = to_txt(talk_sentences, chapters)
    assert txt.count("TOPIC ") == 4 and "[00:00] TOPIC 0" in txt
    body = [p for p in txt.split("\n\n") if p.strip() and "TOPIC" not in p]
    stripped = " ".join(re.sub(r"^\[\d\d:\d\d\] ", "", p.strip()) for p in body)
    assert stripped == " ".join(s.text for s in talk_sentences)
    plain = to_txt(talk_sentences, timestamps=False)
    assert "[" not in plain and plain.split() == " ".join(s.text for s in talk_sentences).split()
    doc = TranscriptDoc(language="en", duration=140, backend="t", model="m",
                        sentences=talk_sentences)  # fmt: skip
    md = to_markdown(doc, chapters, title="The talk")
    assert md.startswith("# The talk\n")
    headings = re.findall(r"^## (.+) \((\d\d:\d\d)\)$", md, re.M)
    assert [h[0] for h in headings] == [c.title for c in chapters]
    assert [h[1] for h in headings] == [clock(c.start) for c in chapters]


def test_docx_reopens_with_the_chapter_titles(talk_sentences, tmp_path):
    chapters = chapters_of(talk_sentences)
    path = to_docx(talk_sentences, chapters, tmp_path / "out" / "t.docx", title="The talk")
    document = Document(str(path))
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert headings == [c.title for c in chapters]
    assert document.paragraphs[0].text == "The talk"
    timed = [p for p in document.paragraphs if re.match(r"\[\d\d:\d\d\] ", p.text)]
    assert timed and timed[0].runs[0].bold
    assert "Ninety two degrees" in " ".join(p.text for p in timed)


def test_zip_streams_files_stores_media_and_deflates_text(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(bytes(range(256)) * 400)
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n" + "words " * 2000)
    out = build_zip(
        {
            "clips/0-9x16.mp4": video,
            "posts/blog.md": notes,
            "transcript.srt": "1\n",
            "raw.bin": b"x",
        },
        tmp_path / "bundle.zip",
    )
    with zipfile.ZipFile(out) as archive:
        info = {i.filename: i for i in archive.infolist()}
        assert sorted(info) == ["clips/0-9x16.mp4", "posts/blog.md", "raw.bin", "transcript.srt"]
        assert info["clips/0-9x16.mp4"].compress_type == zipfile.ZIP_STORED
        assert info["posts/blog.md"].compress_type == zipfile.ZIP_DEFLATED
        assert info["posts/blog.md"].compress_size < info["posts/blog.md"].file_size / 10
        assert archive.read("clips/0-9x16.mp4") == video.read_bytes()
        assert archive.testzip() is None
    assert not (tmp_path / "bundle.zip.part").exists()


def test_zip_of_a_folder_and_unsafe_names(tmp_path):
    folder = tmp_path / "job"
    (folder / "exports").mkdir(parents=True)
    (folder / "exports" / "a.txt").write_text("a")
    (folder / "b.vtt").write_text("b")
    with zipfile.ZipFile(build_zip(folder, tmp_path / "all.zip")) as archive:
        assert archive.namelist() == ["b.vtt", "exports/a.txt"]
    with pytest.raises(ValueError, match="unsafe"):
        build_zip({"../escape.txt": "x"}, tmp_path / "bad.zip")


def test_clock_formats():
    assert clock(0) == "00:00" and clock(61.9) == "01:01" and clock(3725) == "1:02:05"
    assert clock(59, hours=True) == "0:00:59"
