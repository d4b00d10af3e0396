"""The results page in headless Chromium: every plot loads with real content, PNG and SVG downloads work."""

import io

import pytest
from django.conf import settings
from PIL import Image

from surveys.scoring.plots import PLOTS
from tests.surveys import factories
from tests.surveys.browser import fresh_contexts
from tests.surveys.scoring import planting

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def signed_in_context(browser, client, user, base_url: str):
    client.force_login(user)
    context = browser.new_context(base_url=base_url)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": base_url,
                          "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])
    return context


def test_it_renders_every_plot_with_real_content(live_server, client, shared_chromium):
    researcher = factories.researcher()
    study = factories.study(researcher, n_items=5, jobs=2)
    first, second = study.conditions.values_list("pk", flat=True)
    planting.crowd(study, accuracy={first: 0.85, second: 0.25}, n=5, seed=7)

    with fresh_contexts(shared_chromium) as browser:
        page = signed_in_context(browser, client, researcher, live_server.url).new_page()
        page.goto(f"/researcher/studies/{study.pk}/results/")
        page.wait_for_function("() => [...document.images].every(img => img.complete)")

        sizes = page.eval_on_selector_all("figure img", "imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])")
        assert len(sizes) == len(PLOTS) and all(w > 300 and h > 200 for w, h in sizes)
        shot = Image.open(io.BytesIO(page.locator("#plot-alignment img").screenshot()))
        assert len(shot.convert("RGB").getcolors(maxcolors=1 << 16) or []) > 20  # not a blank box
        for name in PLOTS:
            svg = page.request.get(page.get_attribute(f"#plot-{name} a:has-text('SVG')", "href"))
            png = page.request.get(page.get_attribute(f"#plot-{name} a:has-text('PNG')", "href"))
            assert svg.ok and svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.body()
            assert png.ok and png.body().startswith(b"\x89PNG")
        alignment_svg = page.request.get(f"/researcher/studies/{study.pk}/plots/alignment.svg").text()
        assert study.conditions.first().label[:20] in alignment_svg  # the condition names are drawn
        assert page.inner_text("#scores").count("[") >= 4  # both intervals of both conditions
