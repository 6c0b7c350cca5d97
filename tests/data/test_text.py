import numpy as np
import pytest

from ssmem.data import build_task
from ssmem.data._errors import DataNotFoundError, MalformedDataError
from ssmem.data.retrieval import RetrievalParams, make_pairs
from ssmem.data.text import TextParams

WORKS = {"alpha": "a", "beta": "b", "gamma": "c"}


def write_corpus(root, n_docs=6, doc_bytes=200):
    """Three works; document k of work w repeats a marker unique to that document."""
    texts = {}
    for work, letter in WORKS.items():
        (root / work).mkdir(parents=True)
        for k in range(n_docs):
            text = (f"<{letter}{k}>" + letter * 7) * (doc_bytes // 11)
            (root / work / f"doc{k}.txt").write_text(text)
            texts[f"{work}/doc{k}.txt"] = text.encode()
    return texts


def test_text_splits_never_share_a_document(tmp_path):
    texts = write_corpus(tmp_path / "corpus")
    data = build_task("lra/text", TextParams(corpus=str(tmp_path / "corpus"), seq_len=64))
    classes = data.info.extra["classes"]
    assert classes == sorted(WORKS) and data.info.d_output == 3 and data.info.vocab_size == 256
    docs = {name: set(getattr(data, name).groups.tolist()) for name in ("train", "val", "test")}
    assert not docs["train"] & docs["test"] and not docs["train"] & docs["val"] and not docs["val"] & docs["test"]
    for name in ("train", "val", "test"):
        split = getattr(data, name)
        assert {int(split[i][1]) for i in range(len(split))} == {0, 1, 2}  # stratified: every class everywhere
        for i in range(len(split)):
            x, y = split[i]
            chunk = bytes(x[x != 0].tolist())
            owners = [n for n, t in texts.items() if chunk in t]
            assert owners and all(o.split("/")[0] == classes[int(y)] for o in owners)
    n_chunks = sum(len(getattr(data, s)) for s in ("train", "val", "test"))
    assert n_chunks == 18 * 3  # 198-byte documents: three full 64-byte chunks; the 6-byte tail is dropped


def write_imdb(root, per_folder, repeat=1):
    """A tiny aclImdb release: ``per_folder`` reviews "<pos|neg> review <k> " (repeated) in each split's folders."""
    for split in ("train", "test"):
        for sub in ("pos", "neg"):
            (root / split / sub).mkdir(parents=True)
            for k in range(per_folder):
                (root / split / sub / f"{k}_7.txt").write_text(f"{sub} review {k} " * repeat)
    return root


def test_text_imdb_reader(tmp_path):
    write_imdb(tmp_path / "aclImdb", per_folder=5, repeat=3)
    data = build_task("lra/text", TextParams(source="imdb", seq_len=32, n_val=2), data_dir=tmp_path)
    assert (len(data.train), len(data.val), len(data.test)) == (8, 2, 10)
    for i in range(len(data.test)):
        x, y = data.test[i]
        assert bytes(x[:3].tolist()) == (b"pos" if int(y) == 1 else b"neg")
        assert x.shape == (32,)


def test_imdb_cache_follows_a_changed_review(tmp_path):
    root = write_imdb(tmp_path / "aclImdb", per_folder=3)
    params = TextParams(source="imdb", seq_len=16, n_val=1)
    first = build_task("lra/text", params, data_dir=tmp_path)
    texts = {bytes(first.test[i][0][:6].tolist()) for i in range(len(first.test))}
    assert b"CHANGE" not in texts
    for k in range(3):
        (root / "test" / "neg" / f"{k}_7.txt").write_text("CHANGED review, longer")
    again = build_task("lra/text", params, data_dir=tmp_path)
    assert b"CHANGE" in {bytes(again.test[i][0][:6].tolist()) for i in range(len(again.test))}


def test_imdb_releases_missing_a_class_or_a_review_are_named(tmp_path):
    root = write_imdb(tmp_path / "aclImdb", per_folder=3)
    params = TextParams(source="imdb", seq_len=16, n_val=1, cache=False)
    with pytest.raises(ValueError, match=r"n_val = 6 leaves no training reviews"):
        build_task("lra/text", TextParams(source="imdb", seq_len=16, n_val=6, cache=False), data_dir=tmp_path)
    (root / "train" / "pos" / "1_7.txt").write_text("  \n")
    with pytest.raises(MalformedDataError, match=r"1_7.txt: an empty review"):
        build_task("lra/text", params, data_dir=tmp_path)
    (root / "train" / "pos" / "1_7.txt").write_text("pos again")
    for file in (root / "test" / "pos").iterdir():
        file.unlink()
    (root / "test" / "pos" / "folder.txt").mkdir()  # a folder named like a review is not one
    with pytest.raises(MalformedDataError, match=r"test/pos: no reviews"):
        build_task("lra/text", params, data_dir=tmp_path)


def test_missing_corpus_and_imdb(tmp_path):
    with pytest.raises(DataNotFoundError, match="aclImdb|train/pos"):
        build_task("lra/text", TextParams(source="imdb"), data_dir=tmp_path)
    with pytest.raises(DataNotFoundError, match="one subdirectory per work"):
        build_task("lra/text", TextParams(corpus=str(tmp_path / "nowhere")))
    with pytest.raises(ValueError, match="unknown corpus 'homer'.*shakespeare, bible, gcide"):
        build_task("lra/text", TextParams(corpus="homer"))
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.txt").write_text("x")
    with pytest.raises(MalformedDataError, match="subdirectories"):
        build_task("lra/text", TextParams(corpus=str(tmp_path / "flat")))


def test_pairs_are_balanced_and_respect_classes(rng):
    labels = np.repeat(np.arange(3), 8)
    documents = np.repeat(np.arange(12), 2)  # two chunks per document, four documents per class
    first, second, target = make_pairs(labels, documents, 301, rng)
    assert target.sum() == 151
    same = labels[first] == labels[second]
    assert np.array_equal(same, target == 1)
    positives = target == 1
    assert np.all(documents[first[positives]] != documents[second[positives]])  # other documents of the work


def test_retrieval_from_corpus_keeps_splits_apart(tmp_path):
    texts = write_corpus(tmp_path / "corpus")
    params = RetrievalParams(corpus=str(tmp_path / "corpus"), seq_len=40, n_train=60, n_val=10, n_test=10)
    data = build_task("lra/retrieval", params)
    assert data.info.pairs and data.info.d_output == 2 and data.info.seq_len == 40
    docs = {s: set(getattr(data, s).groups.tolist()) for s in ("train", "val", "test")}
    assert not docs["train"] & docs["test"] and not docs["val"] & docs["test"]
    (x1, x2), y = data.train[0]
    assert x1.shape == x2.shape == (40,)
    agree = 0
    for i in range(len(data.test)):
        (x1, x2), y = data.test[i]
        work = [next(n for n, t in texts.items() if bytes(x[x != 0].tolist()) in t).split("/")[0] for x in (x1, x2)]
        agree += int(y) == int(work[0] == work[1])
    assert agree == len(data.test)
    assert sum(int(data.train[i][1]) for i in range(len(data.train))) == 30


def test_retrieval_aan_reader(tmp_path, capsys):
    root = tmp_path / "tsv_data"
    root.mkdir()
    for name in ("train", "eval", "test"):
        rows = [f"{k % 2}.0\tid{k}\tid{k + 1}\tfirst text {k}\tsecond text {k}" for k in range(4)]
        (root / f"new_aan_pairs.{name}.tsv").write_text("\n".join(rows) + "\n")
    data = build_task("lra/retrieval", RetrievalParams(source="aan", seq_len=16, n_train=0, n_val=0, n_test=0), data_dir=tmp_path)
    assert len(data.train) == 4
    (x1, x2), y = data.train[3]
    assert bytes(x1[:12].tolist()) == b"first text 3" and bytes(x2[:13].tolist()) == b"second text 3" and int(y) == 1
    # a limit that cuts a file says so; one that keeps every row does not
    from ssmem.data._progress import data_progress

    with data_progress(True):
        data = build_task("lra/retrieval", RetrievalParams(source="aan", seq_len=16, n_train=2, n_val=4, n_test=0, cache=False), data_dir=tmp_path)
    assert (len(data.train), len(data.val)) == (2, 4)
    said = capsys.readouterr().err
    assert "new_aan_pairs.train.tsv: read the first 2 pairs only" in said and "eval.tsv: read" not in said
    # bytes that are not UTF-8 pass through unchanged
    (root / "new_aan_pairs.train.tsv").write_bytes(b"1\tid0\tid1\tcaf\xe9 au lait\tsecond\n")
    data = build_task("lra/retrieval", RetrievalParams(source="aan", seq_len=16, n_train=0, n_val=0, n_test=0,
                                                       cache=False), data_dir=tmp_path)
    assert bytes(data.train[0][0][0][:12].tolist()) == b"caf\xe9 au lait"
    for label in ("0.6", "inf", "2"):
        (root / "new_aan_pairs.train.tsv").write_text(f"0\tid\tid\ta\tb\n{label}\tid0\tid1\tfirst\tsecond\n")
        with pytest.raises(MalformedDataError, match=f"line 2: label '{label}' is not 0 or 1"):
            build_task("lra/retrieval", RetrievalParams(source="aan", release_dir=str(root), cache=False))
    (root / "new_aan_pairs.train.tsv").write_text("1\tid0\tid1\tfirst\tsecond\n")
    (root / "new_aan_pairs.test.tsv").write_text("1\tid\tonly three columns\n")
    with pytest.raises(MalformedDataError, match="new_aan_pairs.test.tsv.*3 columns"):
        build_task("lra/retrieval", RetrievalParams(source="aan", release_dir=str(root), cache=False))


def test_availability_names_the_problem_that_building_raises(tmp_path):
    """`ssmem data NAME` (availability, no build) and `--prepare` (the build) fault the same corpora."""
    from ssmem.data._sources import availability

    write_corpus(tmp_path / "mine")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.txt").write_text("x")
    cases = {
        "homer": "unknown corpus 'homer'; valid choices: shakespeare",
        "shakespeare+homer": "unknown corpus 'homer'",
        str(tmp_path / "nowhere.txt"): "no such file or directory",
        str(tmp_path / "flat"): "no files in subdirectories",
        "shakespeare+": "empty part in corpus 'shakespeare+' (names are joined by '+')",
    }
    for corpus, reason in cases.items():
        state = availability("lra/text", TextParams(corpus=corpus))
        assert not state.ready and reason in state.detail, (corpus, state)
        with pytest.raises((ValueError, DataNotFoundError)):
            build_task("lra/text", TextParams(corpus=corpus, seq_len=32))
    state = availability("lra/text", TextParams(corpus=str(tmp_path / "mine")))
    assert state.ready and "(18 files)" in state.detail
    # a path holding '+' is one corpus, not two names
    write_corpus(tmp_path / "c++")
    state = availability("lra/text", TextParams(corpus=str(tmp_path / "c++")))
    assert state.ready and "(18 files)" in state.detail
