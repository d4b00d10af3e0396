"""The floor under the participant path (for bench/loadtest.py): Django answering one view with no
middleware, no database and no templates, served by the same gunicorn settings."""

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse
from django.urls import path


def ok(request):
    return HttpResponse(b'{"ok": true}', content_type="application/json")


settings.configure(DEBUG=False, ROOT_URLCONF=__name__, MIDDLEWARE=[], ALLOWED_HOSTS=["*"], SECRET_KEY="minimal")
urlpatterns = [path("", ok)]
application = get_wsgi_application()
