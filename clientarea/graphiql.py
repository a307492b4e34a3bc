"""GraphiQL's page, which says why when its scripts cannot be loaded (they come from a CDN), instead
of showing "Loading..." for ever."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Runs after the page's external scripts have loaded or failed (scripts without async run in order).
_FALLBACK = """<script>
  if (typeof React === "undefined" || typeof ReactDOM === "undefined" || typeof GraphiQL === "undefined") {
    document.getElementById("graphiql").innerHTML =
      '<div style="font: 16px/1.5 sans-serif; margin: 2em; max-width: 40em">' +
      "<h1>GraphiQL could not start</h1>" +
      "<p>Its scripts are loaded from __HOSTS__, which this browser cannot reach (offline, or " +
      "blocked by a proxy or an extension).</p>" +
      "<p>The API itself works: POST a JSON body <code>{\\"query\\": \\"...\\"}</code> to this URL " +
      "with <code>Content-Type: application/json</code>, e.g. with curl.</p></div>";
  }
</script>
"""


def with_offline_notice(html: str) -> str:
    """The GraphiQL page with a notice shown when its CDN scripts did not load."""
    hosts = sorted({urlsplit(src).netloc for src in re.findall(r'src="(https?://[^"]+)"', html)} - {""})
    named = " and ".join(hosts) or "a CDN"
    return html.replace("</body>", _FALLBACK.replace("__HOSTS__", named) + "</body>", 1)
