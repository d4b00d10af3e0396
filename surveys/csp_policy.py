"""The Content-Security-Policy header, built once per process.

django-csp builds the header from the settings on every response. The site-wide policy changes only
with the settings, so this middleware keeps the built string and sets it directly; any response the
policy varies for (a decorator's update, a nonce, an exemption, report-only or excluded prefixes)
takes django-csp's own path unchanged.
"""

import functools

from csp.middleware import HEADER, CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# What django-csp's decorators (csp_update, csp_replace, csp, csp_exempt) set on a response.
PER_RESPONSE_ATTRIBUTES = ("_csp_config", "_csp_update", "_csp_replace", "_csp_exempt",
                           "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro", "_csp_exempt_ro")


@functools.cache
def site_policy() -> str:
    return build_policy()


@receiver(setting_changed)
def _forget_policy(*, setting: str, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        site_policy.cache_clear()


def _varies(request, response) -> bool:
    """Whether this response's policy is not the site-wide one, or django-csp must decide."""
    policy = getattr(settings, "CONTENT_SECURITY_POLICY", None) or {}
    return (settings.DEBUG or getattr(request, "_csp_nonce", None) is not None
            or bool(getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None))
            or bool(policy.get("EXCLUDE_URL_PREFIXES"))
            or any(hasattr(response, name) for name in PER_RESPONSE_ATTRIBUTES))


class SitePolicyMiddleware(CSPMiddleware):
    def process_response(self, request, response):
        if _varies(request, response):
            return super().process_response(request, response)
        policy = site_policy()
        if policy and HEADER not in response:
            response[HEADER] = policy
        # As django-csp does: a nonce asked for after the header is written is an error, not a silent gap.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
