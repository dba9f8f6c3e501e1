"""FAQ search: what a visitor types, turned into forms the articles were indexed by, and
the candidates the database finds ranked by how well they answer it.

The database (store/faq.py) narrows a site's articles to candidates by trigrams (SQLite
FTS5's trigram tokenizer, PostgreSQL's pg_trgm); the ranking here is the same for both
backends, so both find the same answers. What makes real questions match:

* word forms: Russian and Ukrainian words by their dictionary form (pymorphy3), English
  by its Snowball stem, Kazakh by a small suffix stripper of our own (no library exists);
* typos: terms compared by edit similarity (rapidfuzz), trigrams for the candidates;
* the wrong keyboard layout (ljcnfdrf → доставка, вудшмукн → delivery) and Latin
  transliteration (dostavka): each is one more reading of the query, the best one wins;
* reordered words and other phrasings: every word scores on its own, articles carry
  extra phrasings, and common words ("how", "как", "қалай") count for nothing.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from rapidfuzz import fuzz, process

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CYRILLIC = re.compile(r"[а-яёіїєґәғқңөұүһ]")
_LATIN = re.compile(r"[a-z]")
_KAZAKH_LETTERS = re.compile(r"[әғқңөұүһ]")
_UKRAINIAN_LETTERS = re.compile(r"[іїєґ]")

# Words that say nothing about which article is meant.
STOPWORDS = frozenset(
    """
    a an the i me my we our you your is are was be been do does did can could how what when where why
    which who whom to of in on at for from by with and or not no yes it its this that there here will
    would should shall have has had get if as so than then about please any some there
    я мне меня мы нас вы вам вас ты он она они оно это этот эта эти как что когда где почему зачем
    какой какая какие каков ли ни не да нет и или а но в во на с со к ко по о об от до из у за для при
    же бы можно нужно надо есть был была было будет хочу хотим пожалуйста мой моя мои ваш ваша ваши
    сколько чем кто
    мені мене ми нас ви вам вас ти він вона вони воно це цей ця ці як що коли де чому навіщо який
    яка які чи ні не так і й або але в у на з зі із к до по про від за для при б би можна треба потрібно
    є був була було буде хочу будь ласка мій моя мої ваш ваша ваші скільки хто
    мен маған мені біз бізге сен сіз сізге ол олар бұл осы қалай не неге қашан қайда қандай ма ме ба бе
    па пе және мен бен пен немесе бірақ үшін да де та те ғой бар жоқ керек болады ма қанша кім өтінемін
    """.split()
)

# The same keys in each layout (letters and the punctuation keys that carry letters).
_EN_KEYS = "`qwertyuiop[]asdfghjkl;'zxcvbnm,."
_RU_KEYS = "ёйцукенгшщзхъфывапролджэячсмитьбю"
_UK_KEYS = "'йцукенгшщзхїфівапролджєячсмитьбю"
# The Kazakh layout is the Russian one with its own letters on the number row.
_KK_DIGITS = {"2": "ә", "3": "і", "4": "ң", "5": "ғ", "8": "ү", "9": "ұ", "0": "қ", "-": "ө", "=": "һ"}
_EN_TO_RU = str.maketrans(_EN_KEYS, _RU_KEYS)
_EN_TO_UK = str.maketrans(_EN_KEYS, _UK_KEYS)
_EN_TO_KK = str.maketrans({**dict(zip(_EN_KEYS, _RU_KEYS)), **_KK_DIGITS})
_CYR_TO_EN = str.maketrans({**dict(zip(_UK_KEYS, _EN_KEYS)), **dict(zip(_RU_KEYS, _EN_KEYS)),
                            **{v: k for k, v in _KK_DIGITS.items()}})

# Latin transliteration as people type it (ISO 9-ish and the common informal habits).
_TRANSLIT = [
    ("shch", "щ"), ("sch", "щ"), ("zh", "ж"), ("kh", "х"), ("ch", "ч"), ("sh", "ш"), ("ts", "ц"), ("tz", "ц"),
    ("yu", "ю"), ("ju", "ю"), ("iu", "ю"), ("ya", "я"), ("ja", "я"), ("ia", "я"), ("yo", "ё"), ("jo", "ё"),
    ("ye", "е"), ("je", "е"), ("gh", "ғ"),
    ("a", "а"), ("b", "б"), ("v", "в"), ("g", "г"), ("d", "д"), ("e", "е"), ("z", "з"), ("i", "и"), ("j", "й"),
    ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"), ("r", "р"), ("s", "с"), ("t", "т"),
    ("u", "у"), ("f", "ф"), ("h", "х"), ("c", "к"), ("y", "ы"), ("w", "в"), ("x", "кс"), ("q", "к"),
]
_TRANSLIT_RE = re.compile("|".join(re.escape(latin) for latin, _ in _TRANSLIT))
_TRANSLIT_MAP = dict(_TRANSLIT)

# Kazakh endings, longest first: plural, case, possession, and the common verb forms.
_KK_SUFFIXES = sorted(
    """
    лар лер дар дер тар тер
    ның нің дың дің тың тің ға ге қа ке на не да де та те нда нде дан ден тан тен нан нен мен бен пен
    ны ні ды ді ты ті ын ін
    ымыз іміз мыз міз ыңыз іңіз ңыз ңіз ым ім ың ің сы сі
    ады еді йды йді атын етін йтын йтін ған ген қан кен ып іп са се ма ме у іл ыл ына іне
    """.split(),
    key=len,
    reverse=True,
)
_KK_MIN_STEM = 3

MAX_QUERY_WORDS = 12
# Kazakh (and Ukrainian) typed without their own letters: кепилдик for кепілдік.
_FOLD = str.maketrans("әғқңөұүһіїєґ", "агкноууииієг")
PREFIX_MARK = "~"  # a word's first letters: a last resort for forms no analyzer relates
_PREFIX_LEN = 5
# Ukrainian transliteration habits (y for и, i for і, h for г) on top of the common ones.
_UK_TRANSLIT = [("yi", "ї"), ("ye", "є"), ("ie", "є"), ("y", "и"), ("i", "і"), ("h", "г"), ("g", "ґ")]


def kazakh_stem(word: str) -> str:
    """``word`` without its Kazakh endings (up to three, the stem kept at 3+ letters):
    жеткізу, жеткізіледі → жеткіз; тапсырыстар, тапсырысты → тапсырыс."""
    for _ in range(3):
        for suffix in _KK_SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= _KK_MIN_STEM:
                word = word[: -len(suffix)]
                break
        else:
            break
    return word


def transliterate(text: str) -> str:
    """Latin typed for Cyrillic: dostavka → доставка."""
    return _TRANSLIT_RE.sub(lambda m: _TRANSLIT_MAP[m.group(0)], text)


_UK_TRANSLIT_MAP = {**_TRANSLIT_MAP, **dict(_UK_TRANSLIT)}
_UK_TRANSLIT_RE = re.compile("|".join(re.escape(k) for k in sorted(_UK_TRANSLIT_MAP, key=len, reverse=True)))


def transliterate_uk(text: str) -> str:
    """Latin typed for Ukrainian: znyzhky → знижки, povernennya → повернення."""
    return _UK_TRANSLIT_RE.sub(lambda m: _UK_TRANSLIT_MAP[m.group(0)], text)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("ё", "е"))


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


class Analyzers:
    """The word-form analyzers, loaded on first use (pymorphy3's dictionaries take a
    second and ~50 MB) and shared by the threads that search."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._morph: dict[str, Any] = {}
        self._english: Any = None
        self._cache: dict[tuple[str, str], str] = {}

    def _analyzer(self, lang: str) -> Any:
        morph = self._morph.get(lang)
        if morph is None:
            with self._lock:
                morph = self._morph.get(lang)
                if morph is None:
                    import pymorphy3

                    morph = self._morph[lang] = pymorphy3.MorphAnalyzer(lang=lang)
        return morph

    def normal(self, word: str, lang: str) -> str:
        """The dictionary form (ru, uk), the stem (en, kk), or the word itself."""
        key = (word, lang)
        found = self._cache.get(key)
        if found is not None:
            return found
        if lang in ("ru", "uk") and _CYRILLIC.search(word):
            found = self._analyzer(lang).parse(word)[0].normal_form.replace("ё", "е")
        elif lang == "kk" and _CYRILLIC.search(word):
            found = kazakh_stem(word)
        elif lang == "en" and _LATIN.search(word):
            if self._english is None:
                import snowballstemmer

                self._english = snowballstemmer.stemmer("english")
            found = self._english.stemWord(word)
        else:
            found = word
        if len(self._cache) > 200_000:  # bounded: queries are open-ended
            self._cache.clear()
        self._cache[key] = found
        return found

    def word_forms(self, word: str, lang: str | None = None) -> list[str]:
        """A word and its normal forms: in ``lang`` when known (an article's words), else
        in every language its letters allow (a visitor's query)."""
        forms = [word]
        if lang is not None:
            langs: Iterable[str] = (lang,)
        elif _KAZAKH_LETTERS.search(word):
            langs = ("kk",)
        elif _UKRAINIAN_LETTERS.search(word):
            langs = ("uk", "kk")
        elif _CYRILLIC.search(word):
            langs = ("ru", "uk", "kk")
        else:
            langs = ("en",)
        for code in langs:
            form = self.normal(word, code)
            if form and form not in forms:
                forms.append(form)
        if _CYRILLIC.search(word):
            folded = word.translate(_FOLD)
            if folded not in forms:
                forms.append(folded)
            if len(word) > _PREFIX_LEN:
                forms.append(folded[:_PREFIX_LEN] + PREFIX_MARK)
        return forms

    def index_terms(self, text: str, lang: str) -> list[str]:
        """Every word of an article's text and its normal form, without repeats."""
        terms: dict[str, None] = {}
        for word in content_words(text):
            for form in self.word_forms(word, lang):
                terms[form] = None
        return list(terms)


@dataclass(frozen=True)
class Reading:
    """One way to read the query (as typed, in another layout, transliterated): its words,
    each with its forms, and how much a match through it is worth."""

    words: tuple[tuple[str, ...], ...]
    weight: float


def readings(query: str, analyzers: Analyzers) -> list[Reading]:
    text = query.lower().replace("ё", "е")[:500]
    found: list[tuple[str, float]] = [(text, 1.0)]
    if _LATIN.search(text):
        found += [(text.translate(_EN_TO_RU), 0.95), (text.translate(_EN_TO_UK), 0.95),
                  (text.translate(_EN_TO_KK), 0.95), (transliterate(text), 0.9), (transliterate_uk(text), 0.9)]
    if _CYRILLIC.search(text):
        found.append((text.translate(_CYR_TO_EN), 0.95))
    result: list[Reading] = []
    seen: set[tuple[str, ...]] = set()
    for variant, weight in found:
        ws = tuple(content_words(variant)[:MAX_QUERY_WORDS])
        if not ws or ws in seen:
            continue
        seen.add(ws)
        result.append(Reading(tuple(tuple(analyzers.word_forms(w)) for w in ws), weight))
    return result


def probe_terms(reads: Sequence[Reading], limit: int = 40) -> list[str]:
    """The forms the database looks candidates up by (3+ letters: trigrams)."""
    terms: dict[str, None] = {}
    for reading in reads:
        for forms in reading.words:
            for form in forms:
                if len(form) >= 3 and not form.endswith(PREFIX_MARK):
                    terms[form] = None
    return list(terms)[:limit]


@dataclass(frozen=True)
class Candidate:
    id: int
    question: str
    language: str
    answer: str  # Markdown, for the snippet
    title_terms: tuple[str, ...]  # question and extra phrasings
    body_terms: tuple[str, ...]  # answer and category


@dataclass(frozen=True)
class Ranked:
    candidate: Candidate
    score: float


# A match through the answer counts for less than one through the question.
_BODY_WEIGHT = 0.55
_PREFIX_SIMILARITY = 0.7
_SIMILAR = 78  # rapidfuzz ratio (0..100) from which two terms count as the same, typo allowed
MIN_SCORE = 0.3


def _term_similarity(form: str, vocabulary: list[str], known: frozenset[str]) -> dict[str, float]:
    """The vocabulary's terms similar to ``form``, 0..1 (1: the same)."""
    if form.endswith(PREFIX_MARK):
        return {form: _PREFIX_SIMILARITY} if form in known else {}
    if len(form) <= 3:
        return {form: 1.0} if form in known else {}
    matches = process.extract(form, vocabulary, scorer=fuzz.ratio, score_cutoff=_SIMILAR, limit=None)
    return {term: (1.0 if score >= 100 else 0.55 + 0.4 * (score - _SIMILAR) / (100 - _SIMILAR))
            for term, score, _ in matches}


def rank(reads: Sequence[Reading], candidates: Sequence[Candidate], *, limit: int = 10) -> list[Ranked]:
    """Candidates that answer the query, best first, each scored 0..1.

    A query word scores, in each candidate, its best match (1: the same term; less for a
    typo or a shared beginning; less again in the answer than in the question); words
    weigh by how rare their match is among the candidates; a reading scores the weighted
    mean over its words, and a candidate its best reading."""
    if not reads or not candidates:
        return []
    # Where each term is: candidate index -> 1 (question) or _BODY_WEIGHT (answer only).
    postings: dict[str, dict[int, float]] = {}
    for i, c in enumerate(candidates):
        for term in c.body_terms:
            postings.setdefault(term, {})[i] = _BODY_WEIGHT
        for term in c.title_terms:
            postings.setdefault(term, {})[i] = 1.0
    known = frozenset(postings)
    vocabulary = [t for t in postings if not t.endswith(PREFIX_MARK)]
    n = len(candidates)
    similar: dict[str, dict[str, float]] = {}
    best: dict[int, float] = {}
    for reading in reads:
        totals: dict[int, float] = {}
        weights = 0.0
        for forms in reading.words:
            matched: dict[str, float] = {}
            for form in forms:
                if form not in similar:
                    similar[form] = _term_similarity(form, vocabulary, known)
                for term, sim in similar[form].items():
                    if sim > matched.get(term, 0.0):
                        matched[term] = sim
            if not matched:
                weights += 1.0
                continue
            # How rare a term is among the candidates: a word most of them share tells little.
            rarest = min(len(postings[t]) for t in matched)
            weight = 0.5 + math.log(1 + n / rarest)
            weights += weight
            scores: dict[int, float] = {}
            for term, sim in matched.items():
                for i, field_weight in postings[term].items():
                    value = sim * field_weight
                    if value > scores.get(i, 0.0):
                        scores[i] = value
            for i, value in scores.items():
                totals[i] = totals.get(i, 0.0) + value * weight
        for i, total in totals.items():
            value = reading.weight * total / weights
            if value > best.get(i, 0.0):
                best[i] = value
    ranked = [Ranked(candidates[i], round(s, 4)) for i, s in best.items() if s >= MIN_SCORE]
    ranked.sort(key=lambda r: (-r.score, r.candidate.id))
    return ranked[:limit]
