"""Participant pages and their small JSON API. Nothing here says which option is the target."""

import functools
import re
import secrets

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from surveys.common.specs import SpecError, printable
from surveys.studies.models import Study
from surveys.studies.paradigms import PARADIGMS
from surveys.studies.richtext import rich_text_render
from surveys.trials import selectors, services, withdrawal
from surveys.trials.guards import participant_request
from surveys.trials.image_delivery import image_response
from surveys.trials.image_links import trial_image_links
from surveys.trials.layout import QUERY_SLOT
from surveys.trials.models import ParticipantStatus, Trial, TrialKind
from surveys.trials.payloads import AnswerPost, DevicePost, QuestionAnswersPost, json_body
from surveys.trials.recruitment import (
    RecruitmentSource,
    is_mturk_preview,
    link_params,
    outcome_for,
    recruitment_from_params,
)
from surveys.trials.runner_text import runner_text
from surveys.trials.viewing import Viewing, stimulus_px

RATE = "IRIS_PARTICIPANT_RATE"  # the settings holding the per-token rates (read at each request)
IMAGE_RATE = "IRIS_IMAGE_RATE"
# How many upcoming trials the page may hold at once: enough to preload and to ask again only every
# few trials (each fetch costs the server what an answer does), never the whole design.
MAX_TRIALS_AHEAD = 8
# The browser that started a session remembers its token in a signed cookie, one per study: no
# server-side session row per participant (one INSERT per arrival, and a table to sweep).
REMEMBERED_SALT = "iris.trials.remembered"
REMEMBERED_MAX_AGE_S = 30 * 24 * 3600
# The start page's one-time key (services.participant_enter): a double click resumes, nothing else.
ARRIVAL_KEY = re.compile(r"[A-Za-z0-9_-]{1,32}")
PLATFORM_NAMES = {RecruitmentSource.PROLIFIC: "Prolific", RecruitmentSource.MTURK: "MTurk worker"}
# The runner page's scripts (static files), in load order: jsPsych, the jsPsych plugins it uses (from
# node_modules/@jspsych), then IRIS's own; runner.js comes last, after the page's config.
JSPSYCH_PLUGINS = ("instructions", "call-function", "browser-check", "fullscreen", "html-button-response",
                   "virtual-chinrest")
IRIS_SCRIPTS = ("iris-screen.js", "iris-presentation.js", "plugin-iris-choice.js", "plugin-iris-rating.js",
                "plugin-iris-timed.js", "plugin-iris-questions.js", "outbox.js")
RUNNER_SCRIPTS = ("vendor/jspsych/index.browser.min.js",
                  *(f"vendor/jspsych-plugins/plugin-{name}/dist/index.browser.min.js" for name in JSPSYCH_PLUGINS),
                  *(f"iris/{name}" for name in IRIS_SCRIPTS))
# Translators: each completes "This study was started with ... in another browser": use the case it needs there.
ID_NAMES = {RecruitmentSource.PROLIFIC: gettext_lazy("your Prolific ID"),
            RecruitmentSource.MTURK: gettext_lazy("your MTurk worker ID")}
PLAIN_ID_NAME = gettext_lazy("your participant ID")


def _page(request: HttpRequest, study: Study, template: str, context: dict | None = None, *,
          status: int = 200) -> HttpResponse:
    """A participant page in the study's language, whatever the browser asks for."""
    with translation.override(study.language):
        return render(request, template, {"study": study, **(context or {})}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@participant_request(group="participant-start", rate=RATE, as_json=False)
def study_start(request: HttpRequest, public_id: str) -> HttpResponse:
    """GET shows a start button (a link preview must not create a session); POST enters the study.
    A session is resumed only with its secret: the browser that started it remembers its token."""
    study = selectors.study_by_public_id(public_id=public_id)
    params = request.POST if request.method == "POST" else request.GET
    remembered = request.get_signed_cookie(_remembered_cookie(study), default="", salt=REMEMBERED_SALT)
    if remembered and not link_params(params):
        return redirect("trials:participant", token=remembered)
    if is_mturk_preview(params):  # a worker previewing the HIT: describe it, start nothing
        return _page(request, study, "participant/start.html", {"preview": True})
    if request.method == "GET":
        return _page(request, study, "participant/start.html", {"params": link_params(params),
                                                               "arrival": secrets.token_urlsafe(16)})
    return _study_enter(request, study=study, params=params, remembered=remembered)


def _study_enter(request: HttpRequest, *, study: Study, params, remembered: str) -> HttpResponse:
    recruitment = recruitment_from_params(params)
    arrival = params.get("arrival", "")
    try:
        participant = services.participant_enter(study=study, source=recruitment.source,
                                                 recruitment_id=recruitment.recruitment_id,
                                                 recruitment_data=recruitment.data, resume_token=remembered,
                                                 arrival=arrival if ARRIVAL_KEY.fullmatch(arrival) else "")
    except services.SessionElsewhere as elsewhere:
        return _page(request, study, "participant/elsewhere.html",
                     {"id_name": ID_NAMES.get(elsewhere.source, PLAIN_ID_NAME),
                      "prolific": elsewhere.source == RecruitmentSource.PROLIFIC}, status=409)
    except services.StudyClosed as closed:
        full = isinstance(closed, services.StudyFull)
        return _page(request, study, "participant/closed.html", {"full": full}, status=410)
    response = redirect("trials:participant", token=participant.token)
    response.set_signed_cookie(_remembered_cookie(study), participant.token, salt=REMEMBERED_SALT,
                               max_age=REMEMBERED_MAX_AGE_S, secure=settings.SESSION_COOKIE_SECURE, httponly=True,
                               samesite="Lax")
    return response


def _remembered_cookie(study: Study) -> str:
    return f"iris-{study.public_id}"


@staff_member_required
@require_GET
def study_preview(request: HttpRequest, public_id: str) -> HttpResponse:
    """The researcher takes their own study as a participant; the session is a pilot, never scored."""
    study = get_object_or_404(Study, public_id=public_id, owner=request.user)
    participant = services.participant_enter(study=study, source=RecruitmentSource.PLAIN,
                                             recruitment_id=f"pilot:{request.user.pk}:{new_pilot_suffix()}",
                                             recruitment_data={}, is_pilot=True)
    return redirect("trials:participant", token=participant.token)


def new_pilot_suffix() -> str:
    return secrets.token_hex(6)


def participant_get(*, as_json: bool):
    """A GET from a participant's page: never cached, rate-limited per token (and per address), the
    session found by its token (an unknown token is a 404) and touched; the view gets the participant."""
    def decorate(view):
        @never_cache
        @require_GET
        @participant_request(group="participant", rate=RATE, as_json=as_json)
        @functools.wraps(view)
        def with_participant(request: HttpRequest, token: str) -> HttpResponse:
            participant = selectors.participant_by_token(token=token)
            services.participant_touch(participant=participant)
            return view(request, participant)
        return with_participant

    return decorate


@participant_get(as_json=False)
def participant_page(request: HttpRequest, participant) -> HttpResponse:
    texts = selectors.participant_texts(participant=participant)
    with translation.override(texts.language):  # the outcome and the runner's words too
        return _participant_screen(request, participant, texts=texts)


def _participant_screen(request: HttpRequest, participant, *, texts) -> HttpResponse:
    """The page for where the session stands: consent, the runner, or how it ended."""
    context = {"participant": participant, "study": participant.study, "texts": texts}
    if participant.status == ParticipantStatus.STARTED or participant.holds_lapsed_place:
        return render(request, "participant/consent.html", context)
    if participant.status != ParticipantStatus.CONSENTED:
        template, page, status = _end_page(participant)
        return render(request, template, page, status=status)
    answered, total = selectors.trial_counts(participant=participant)
    context["runner_config"] = runner_config(participant, answered=answered, total=total)
    context["scripts"] = RUNNER_SCRIPTS
    return render(request, "participant/runner.html", context)


def _end_page(participant) -> tuple[str, dict, int]:
    """(template, context, status) of a session that has ended: timed out (its place went to someone
    else), or ended with a code, the debrief and the way back; either offers withdrawal."""
    page = {"participant": participant, "study": participant.study, **_withdrawal_offer(participant)}
    if participant.status == ParticipantStatus.TIMED_OUT:
        return "participant/closed.html", {**page, "timed_out": True}, 410
    return "participant/done.html", {**page, "outcome": outcome_for(participant), "debrief": _debrief(participant)}, 200


def _withdrawal_offer(participant) -> dict:
    """The code to withdraw with later and where to enter it, for a session that may withdraw."""
    if not withdrawal.can_withdraw(participant):
        return {}
    return {"withdrawal_code": participant.withdrawal_code,
            "withdraw_url": settings.SITE_URL + reverse("trials:withdraw-code")}


def _debrief(participant) -> str:
    """The researcher's debrief (Markdown, sanitised) for those who took part; "" for none."""
    debrief = selectors.participant_texts(participant=participant).debrief_text
    if participant.consented_at is None or not debrief.strip():
        return ""
    return rich_text_render(text=debrief)


def runner_config(participant, *, answered: int, total: int) -> dict:
    study, token = participant.study, participant.token
    design, texts = study.design_spec, selectors.participant_texts(participant=participant)
    return {
        "trialsUrl": reverse("trials:trials", args=[token]),
        "respondUrl": reverse("trials:respond", args=[token]),
        "finishUrl": reverse("trials:finish", args=[token]),
        "deviceUrl": reverse("trials:device", args=[token]),
        "pageUrl": reverse("trials:participant", args=[token]),
        "answered": answered,
        "total": total,
        "paradigm": study.paradigm,
        "instructionsHtml": rich_text_render(text=texts.instructions_html),  # sanitised: never raw HTML
        "prompt": texts.prompt,
        "scaleLabels": [texts.scale_low_label, texts.scale_high_label],
        "timing": design.timing.to_dict() if design.timing else {},
        "fullscreen": design.fullscreen,
        "minWidth": design.min_width,
        "minHeight": design.min_height,
        "storageKey": f"iris-outbox-{token[:12]}",
        "viewingUrl": reverse("trials:viewing", args=[token]),
        "presentation": design.presentation.to_dict(),
        "viewing": viewing_reply(participant.client_info.get("viewing"), design=design),
        "answersUrl": reverse("trials:answers", args=[token]),
        # Each phase's questions until its answers are stored (a reload does not ask twice).
        "questionsBefore": _unanswered(participant, "before", design.questions_before),
        "questionsAfter": _unanswered(participant, "after", design.questions_after),
        "text": runner_text(),  # the runner's own words, in the active (the study's) language
    }


def _unanswered(participant, phase: str, questions) -> list[dict]:
    return [] if phase in participant.answers else [question.to_dict() for question in questions]


def viewing_reply(viewing: dict | None, *, design) -> dict | None:
    """The stored calibration and the CSS width of the study's images for it (None: window-sized)."""
    if viewing is None:
        return None
    degrees = design.presentation.stimulus_deg
    return {**viewing, "stimulus_px": stimulus_px(viewing=viewing, degrees=degrees) if degrees else None}


def participant_post(view=None, *, as_json: bool = True, body=None, finds_session: bool = True):
    """A POST from a participant's page: rate-limited per token (and per address), the session found
    by its token (an unknown token is a 404); the view gets the participant. With ``body`` (a spec
    class), the JSON body is parsed into that spec for the view, and a bad one is a 400 naming the field.
    With ``finds_session=False`` the view gets the token instead and finds what it needs itself (an
    answer reads its session, trial and study in one query)."""
    def decorate(view):
        @require_POST
        @participant_request(group="participant", rate=RATE, as_json=as_json)
        @functools.wraps(view)
        def with_participant(request: HttpRequest, token: str, **url_args) -> HttpResponse:
            session = selectors.participant_by_token(token=token) if finds_session else token
            if body is None:
                return view(request, session, **url_args)
            try:
                posted = body.from_dict(json_body(request))
            except SpecError as error:
                return _refused(error)
            return view(request, session, posted, **url_args)
        return with_participant

    return decorate(view) if view else decorate


def _refused(error: SpecError) -> JsonResponse:
    return JsonResponse({"error": " ".join(error.messages)}, status=400)


def _next_page(participant) -> str:
    return reverse("trials:participant", args=[participant.token])


@participant_post(as_json=False)
def participant_consent(request: HttpRequest, participant) -> HttpResponse:
    client_info = {key: printable(request.POST.get(key, ""), limit=200)
                   for key in ("screen", "window", "touch", "timezone")}
    client_info["user_agent"] = printable(request.headers.get("User-Agent", ""), limit=300)
    try:
        services.participant_consent(participant=participant, agreed=request.POST.get("agree") == "yes",
                                     client_info=client_info)
    except services.StudyFull:  # the place lapsed unconsented and the study filled up meanwhile
        return _page(request, participant.study, "participant/closed.html", {"full": True}, status=410)
    return redirect(_next_page(participant))


@participant_post(body=DevicePost)
def participant_device(request: HttpRequest, participant, check: DevicePost) -> JsonResponse:
    """The browser check's result: measurements kept; an incompatible device ends the session."""
    services.participant_device(participant=participant, compatible=check.compatible, data=check.data)
    return JsonResponse({"next": _next_page(participant)})


@participant_post(body=Viewing)  # the body bounded and depth-checked (payloads.py)
def participant_viewing(request: HttpRequest, participant, viewing: Viewing) -> JsonResponse:
    """The virtual chinrest's measures (or that it was skipped): stored, and the image size they give."""
    stored = services.participant_viewing_record(participant=participant, viewing=viewing)
    return JsonResponse(viewing_reply(stored, design=participant.study.design_spec))


@participant_post(body=QuestionAnswersPost)
def participant_answers(request: HttpRequest, participant, post: QuestionAnswersPost) -> JsonResponse:
    """The answers to the study's questions before or after the trials; a bad one is a 400 naming it,
    in the study's language (the page shows it above the questions)."""
    try:
        with translation.override(selectors.participant_texts(participant=participant).language):
            services.participant_answers_record(participant=participant, phase=post.phase, answers=post.answers)
    except SpecError as error:
        return _refused(error)
    except services.ResponseRejected as rejected:
        return JsonResponse({"error": str(rejected)}, status=rejected.status)
    return JsonResponse({"stored": True}, status=201)


@never_cache
@require_GET
@participant_request(group="participant", rate=RATE, as_json=True)
def participant_trials(request: HttpRequest, token: str) -> JsonResponse:
    """The next few unanswered trials: image URLs and positions only. The session, its trials and
    its study's paradigm are read together (selectors.trials_outline), not through participant_get."""
    try:
        limit = min(max(int(request.GET.get("n", 3)), 1), MAX_TRIALS_AHEAD)
    except ValueError:
        return JsonResponse({"error": "n must be a whole number."}, status=400)
    outline = selectors.trials_outline(token=token, limit=limit)
    if outline is None:
        raise Http404("No such session.")
    if outline.stale:
        services.session_touch(participant_id=outline.participant_id)
    if outline.status != ParticipantStatus.CONSENTED:
        return JsonResponse({"error": f"This session is {outline.status}.",
                             "next": reverse("trials:participant", args=[token])}, status=409)
    presentation = PARADIGMS[outline.paradigm].presentation
    links = trial_image_links(outline.pending)
    trials = [trial_payload(token, trial, presentation=presentation, break_before=trial.index in outline.breaks,
                            links=links) for trial in outline.pending]
    return JsonResponse({"answered": outline.settled, "total": outline.total, "trials": trials})


# What the page may know about a trial's kind: practice shows feedback, the gate and the main block
# do not; catch trials are served as main trials so nobody can tell them apart.
PHASES = {TrialKind.PRACTICE: "practice", TrialKind.QUALIFICATION: "gate", TrialKind.MAIN: "main",
          TrialKind.CATCH: "main"}


def trial_payload(token: str, trial: Trial, *, presentation: str, break_before: bool,
                  links: dict[tuple[int, str], str] | None = None) -> dict:
    """Positions and opaque image URLs only: nothing says which option is right or what an image is.
    Each slot's URL is its signed link (image_links.py) where there is one, else Django's checked URL."""
    def image(slot: str) -> str:
        return (links or {}).get((trial.pk, slot)) or reverse("trials:image", args=[token, trial.public_id, slot])

    layout = trial.layout_spec
    return {
        "id": trial.public_id,
        "index": trial.index,
        "phase": PHASES[trial.kind],
        "presentation": presentation,
        "break_before": break_before,
        "query": image(QUERY_SLOT) if layout.query else None,
        "options": [image(str(slot)) for slot in range(len(layout.options))],
        "labels": list(layout.labels),
    }


@participant_post(body=AnswerPost, finds_session=False)
def participant_respond(request: HttpRequest, token: str, answer: AnswerPost) -> JsonResponse:
    """Store one answer, or find the one a retry stored; a practice answer gets its feedback."""
    try:
        recorded = services.response_record(token=token, trial_public_id=answer.trial, choice=answer.choice,
                                            rating=answer.rating, rt_ms=answer.rt_ms,
                                            idempotency_key=answer.idempotency_key, client_data=answer.client_data)
    except services.SessionNotFound:
        raise Http404("No such session.") from None
    except services.TrialNotFound:
        return JsonResponse({"error": "No such trial in this session."}, status=404)
    except services.ResponseRejected as rejected:
        return JsonResponse({"error": str(rejected)}, status=rejected.status)
    payload = {"stored": True, "replay": not recorded.created}
    if recorded.kind == TrialKind.PRACTICE:  # only now that it is stored, and only for practice
        payload["feedback"] = {"correct": recorded.correct}
    return JsonResponse(payload, status=201 if recorded.created else 200)


@participant_post
def trial_unavailable(request: HttpRequest, participant, trial_id: str) -> JsonResponse:
    """The browser could not load this trial's images: the trial is left out, never answered. Idempotent."""
    try:
        services.trial_mark_unavailable(participant=participant, trial_public_id=trial_id)
    except services.TrialNotFound:
        return JsonResponse({"error": "No such trial in this session."}, status=404)
    except services.ResponseRejected as rejected:
        return JsonResponse({"error": str(rejected)}, status=rejected.status)
    return JsonResponse({"unavailable": True})


@participant_post
def participant_finish(request: HttpRequest, participant) -> JsonResponse:
    try:
        services.participant_finish(participant=participant)
    except services.ResponseRejected as rejected:
        return JsonResponse({"error": str(rejected)}, status=rejected.status)
    return JsonResponse({"next": _next_page(participant)})


@require_GET
@participant_request(group="participant-image", rate=IMAGE_RATE, as_json=True)
def trial_image(request: HttpRequest, token: str, trial_id: str, slot: str) -> HttpResponse:
    """One image of one trial, named only by its place on screen (q = query, 0, 1, ... = options).
    The bytes go out without a file name, which would say "target" or "seed"."""
    name = selectors.trial_image_name(token=token, trial_public_id=trial_id, slot=slot)
    if name is None:
        raise Http404("No such image.")
    return image_response(name)



@never_cache
@require_POST
@participant_request(group="participant", rate=RATE, as_json=False)
def participant_withdraw(request: HttpRequest, token: str) -> HttpResponse:
    """The end page's withdrawal: the session and its answers are deleted, and the same page says so
    (with the code and the way back to the platform, worked out before) in the participant's language.
    A second press finds the session gone and says that, in the browser's language: no study is known."""
    try:
        participant = selectors.participant_by_token(token=token)
    except Http404:
        with translation.override(translation.get_language_from_request(request)):
            return _withdraw_page(request, {"gone": True}, status=404)
    # Unticked (the box says what withdrawing does), or a session still running: back to its page.
    if request.POST.get("withdraw") != "yes" or not withdrawal.can_withdraw(participant):
        return redirect(_next_page(participant))
    with translation.override(selectors.participant_texts(participant=participant).language):
        template, page, _ = _end_page(participant)
        page["withdrawn"] = withdrawal.participant_withdraw(participant=participant)
        response = render(request, template, page)
    response.delete_cookie(_remembered_cookie(participant.study), samesite="Lax")  # the link starts afresh
    return response


@never_cache
@require_http_methods(["GET", "POST"])
@participant_request(group="participant-withdraw", rate=RATE, as_json=False)
def withdraw_with_code(request: HttpRequest) -> HttpResponse:
    """/p/withdraw/: a participant enters the code from their end page to withdraw later. A code of a
    session already withdrawn says when; an unknown one says so and changes nothing. No session token
    here, so only the per-address limit applies: a code's 60 random bits outlast any guessing at it.
    The page is in the browser's language (of settings.LANGUAGES, else English) until a code names a
    study, then in the language its participant read it in."""
    code = printable(request.POST.get("code", ""), limit=64)
    language = withdrawal.withdrawal_language(code=code) if code else None
    with translation.override(language or translation.get_language_from_request(request)):
        if request.method == "GET":
            return _withdraw_page(request, {})
        if request.POST.get("withdraw") != "yes":
            error = gettext("Tick the box to confirm that your answers are to be deleted.")
            return _withdraw_page(request, {"code": code, "error": error}, status=400)
        try:
            entry, now = withdrawal.withdrawal_by_code(code=code)
        except withdrawal.UnknownWithdrawalCode as unknown:
            return _withdraw_page(request, {"code": code, "error": unknown.messages[0]}, status=404)
        except withdrawal.WithdrawalRefused as refused:
            return _withdraw_page(request, {"code": code, "error": refused.messages[0]}, status=409)
        return _withdraw_page(request, {"withdrawn": entry, "already": not now})


def _withdraw_page(request: HttpRequest, context: dict, *, status: int = 200) -> HttpResponse:
    return render(request, "participant/withdraw.html", {"code_pattern": withdrawal.CODE_PATTERN, **context},
                  status=status)
