import os
import threading

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Each web process loads its models in the background as it starts (after gunicorn forked it), so
# /health reports what was tried rather than what might work, and the first question waits less.
from config.health import models_warm_up  # after get_wsgi_application: needs the app registry

threading.Thread(target=models_warm_up, name="models-warm-up", daemon=True).start()
