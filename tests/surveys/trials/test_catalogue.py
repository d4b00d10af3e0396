"""The German catalogue is complete and the participant pages hold no text outside it: every string
marked for translation in the web app has a German translation (gettext's own tools gather the marks
afresh, as `make messages` does), the committed .mo is that .po compiled, and neither the participant
templates nor the scripts they load show words of their own (docs/architecture.md, "Languages")."""

import ast
import gettext
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.template.base import Lexer, TokenType
from django.test import override_settings

from surveys.trials.views import RUNNER_SCRIPTS

ROOT = Path(settings.BASE_DIR)
GERMAN = ROOT / "surveys" / "locale" / "de" / "LC_MESSAGES"
PARTICIPANT_TEMPLATES = sorted((ROOT / "templates" / "participant").glob("*.html"))
# Strings of the participant's scripts that no participant reads: a directive, a media query, words for
# the console and for errors the runner handles itself, and the IRIS plugins' English defaults for a
# plugin used on its own (the runner always passes the study's words instead: runner_text.py).
NOT_SHOWN = {"use strict", "(pointer: coarse)", "no image after   ms", "IRIS: the server refused an item for good",
             "Option {n}", "Continue", "(optional)", "very different", "identical"}


def po_entries(path: Path) -> dict[str, tuple[bool, bool]]:
    """msgid -> (translated, fuzzy) for each live entry of a .po file; translated: every msgstr filled."""
    entries = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields, key, fuzzy = {}, None, False
        for line in block.splitlines():
            if line.startswith("#,"):
                fuzzy = fuzzy or "fuzzy" in line
            elif line.startswith(("msgid", "msgstr")):
                key, _, line = line.partition(" ")
                fields[key] = ast.literal_eval(line)
            elif line.startswith('"') and key:  # a continuation of the field above
                fields[key] += ast.literal_eval(line)
        if fields.get("msgid"):  # not the header, nor an obsolete (#~) entry
            msgstrs = [text for name, text in fields.items() if name.startswith("msgstr")]
            entries[fields["msgid"]] = (all(msgstrs), fuzzy)
    return entries


def test_it_has_a_german_translation_for_every_string_marked_in_the_web_app(tmp_path, monkeypatch):
    # makemessages reads the working directory and writes beside any locale folder it finds there: it
    # gets a copy of the web app and its templates, without their catalogues.
    sources, locale = tmp_path / "sources", tmp_path / "locale"
    for name in ("surveys", "templates"):
        shutil.copytree(ROOT / name, sources / name, ignore=shutil.ignore_patterns("locale", "__pycache__"))
    (locale / "de" / "LC_MESSAGES").mkdir(parents=True)
    merged = locale / "de" / "LC_MESSAGES" / "django.po"
    shutil.copy(GERMAN / "django.po", merged)
    monkeypatch.chdir(sources)

    with override_settings(LOCALE_PATHS=[str(locale)]):  # the merge is written there, never into the repository
        call_command("makemessages", locale=["de"], no_obsolete=True, verbosity=0)

    now = po_entries(merged)
    assert [msgid for msgid, (translated, _) in now.items() if not translated] == []
    assert [msgid for msgid, (_, fuzzy) in now.items() if fuzzy] == []
    assert sorted(now) == sorted(po_entries(GERMAN / "django.po"))  # no string left that nothing uses


def test_the_committed_mo_is_the_po_compiled(tmp_path):
    compiled = tmp_path / "django.mo"
    # --check also refuses a translation whose %(names)s or {names} differ from its English.
    subprocess.run(["msgfmt", "--check", "-o", str(compiled), str(GERMAN / "django.po")], check=True)

    with open(compiled, "rb") as fresh, open(GERMAN / "django.mo", "rb") as committed:
        assert gettext.GNUTranslations(committed)._catalog == gettext.GNUTranslations(fresh)._catalog


class _Text(HTMLParser):
    """The words an HTML page shows: its text and its text-bearing attributes."""

    SHOWN_ATTRIBUTES = {"title", "alt", "aria-label", "placeholder"}

    def __init__(self):
        super().__init__()
        self.words = []

    def handle_starttag(self, tag, attrs):
        self.words += [value for name, value in attrs if name in self.SHOWN_ATTRIBUTES and value]

    def handle_data(self, data):
        self.words.append(data)


def _untranslated(template: str) -> list[str]:
    """Text of a Django template outside {% translate %} and {% blocktranslate %}: each translated
    string, variable and tag stands in as "§", which is no word."""
    html, skipping = [], None
    for token in Lexer(template).tokenize():
        head = token.contents.split(" ")[0] if token.token_type == TokenType.BLOCK else ""
        if skipping:
            skipping = None if head == skipping else skipping
            continue
        if head in ("blocktranslate", "blocktrans", "comment"):
            skipping = {"comment": "endcomment"}.get(head, "end" + head)
        if token.token_type == TokenType.TEXT:
            html.append(token.contents)
        elif token.token_type == TokenType.VAR or head in ("translate", "trans", "blocktranslate", "blocktrans"):
            html.append("§")
    parser = _Text()
    parser.feed("".join(html))
    return [words.strip() for words in parser.words if re.search(r"[A-Za-z]", words)]


def test_the_participant_templates_show_no_untranslated_text():
    untranslated = {path.name: _untranslated(path.read_text()) for path in PARTICIPANT_TEMPLATES}

    assert len(untranslated) >= 8  # every participant page, base.html included
    assert {name: words for name, words in untranslated.items() if words} == {}


def _participant_scripts() -> list[Path]:
    """The scripts of ours that the participant pages load: those a template names, and the runner's,
    which its view passes to runner.html as a list (RUNNER_SCRIPTS). A static file named any other
    way (a variable this cannot follow) fails here rather than going unread."""
    names = set()
    for path in PARTICIPANT_TEMPLATES:
        for argument in re.findall(r"{%\s*(?:participant_)?static\s+(\S+)\s*%}", path.read_text()):
            if (path.name, argument) == ("runner.html", "script"):  # {% for script in scripts %}
                names.update(RUNNER_SCRIPTS)
            else:
                assert argument[0] in "'\"", f"{path.name} loads {argument}, which this test cannot read"
                names.add(argument.strip("'\""))
    return sorted(ROOT / "static" / name for name in names if name.startswith("iris/") and name.endswith(".js"))


def js_strings(source: str) -> list[str]:
    """The string and template literals of a script (a template's ${...} parts as spaces), read past
    comments and regular-expression literals."""
    strings = []
    _scan(source, 0, strings)
    return strings


def _scan(src: str, i: int, strings: list[str], *, until_brace: bool = False) -> int:
    depth, last = 0, "("  # last: the last code character, which tells a regular expression from a division
    while i < len(src):
        if src.startswith("//", i) or src.startswith("/*", i):
            end = src.find("\n" if src[i + 1] == "/" else "*/", i + 2)
            i = len(src) if end < 0 else end + (0 if src[i + 1] == "/" else 2)
            continue
        char = src[i]
        if char in "\"'`" or (char == "/" and last in "(,=:[!&|?{};"):
            i = _literal(src, i, strings)
            last = char
            continue
        if char == "}" and until_brace and depth == 0:
            return i + 1
        depth += {"{": 1, "}": -1}.get(char, 0)
        last = last if char.isspace() else char
        i += 1
    return i


def _literal(src: str, i: int, strings: list[str]) -> int:
    """The literal starting at src[i] ("...", '...', `...` or /regex/), recorded unless a regex; where it ends."""
    quote, text, i, in_class = src[i], [], i + 1, False
    while in_class or src[i] != quote:
        if src[i] == "\\":
            text.append(src[i:i + 2])
            i += 2
            continue
        if quote == "`" and src.startswith("${", i):
            text.append(" ")
            i = _scan(src, i + 2, strings, until_brace=True)
            continue
        if quote == "/":
            in_class = {"[": True, "]": False}.get(src[i], in_class)
        text.append(src[i])
        i += 1
    if quote != "/":
        strings.append("".join(text))
    return i + 1


def _reads_as_text(string: str) -> bool:
    """Words a person reads: two or more words, or one capitalised word (markup and names of code,
    such as iris-option or browser_version, are no words)."""
    plain = re.sub(r"<[^>]*>", " ", string)
    words = [w for w in (token.strip(".,:;!?…()") for token in plain.split()) if re.fullmatch(r"[A-Za-z]{2,}", w)]
    return len(words) >= 2 or bool(re.fullmatch(r"\s*[A-Z][a-z]+[.!?…]*\s*", plain))


def test_the_scripts_read_their_words_from_the_catalogue():
    scripts = _participant_scripts()
    shown = {path.name: [s for s in js_strings(path.read_text()) if _reads_as_text(s) and s not in NOT_SHOWN]
             for path in scripts}

    assert {"runner.js", "iris-presentation.js", "plugin-iris-choice.js"} <= {path.name for path in scripts}
    assert {name: strings for name, strings in shown.items() if strings} == {}


def test_the_script_reader_finds_words_and_passes_over_code():
    script = """// "A comment" is not read.
    const pattern = /[&<>"']/g; /* nor is 'this' */
    setStatus("Saving your answers…");
    el("button", { class: "iris-option many" }, `Option ${i + 1} of ${`${n} here`}`);
    button.textContent = 'Continue';"""

    found = [s for s in js_strings(script) if _reads_as_text(s)]

    assert found == ["Saving your answers…", "Option   of  ", "Continue"]
