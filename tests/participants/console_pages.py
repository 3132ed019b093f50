"""The console's pages as an operator reaches them: by following its links from the dashboard."""

import html
import re

from django.urls import Resolver404, resolve

LINK = re.compile(r'href="(/admin/[^"#]*)"')
NOT_PAGES = ("/admin/logout/", "/admin/jsi18n/")


def console_pages(client, start: str = "/admin/", limit: int = 200) -> list[str]:
    """Every page `client` (signed in) reaches by following links from `start`, one per URL pattern (one
    participant's page stands for every participant's), without their query strings; GETs only, as links are."""
    seen, pages, queue = set(), [], [start]
    while queue and len(pages) < limit:
        path = html.unescape(queue.pop(0)).split("?")[0]
        try:
            match = resolve(path)
        except Resolver404:
            continue
        if path in NOT_PAGES or match.route in seen:
            continue
        seen.add(match.route)
        response = client.get(path)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        pages.append(path)
        queue += LINK.findall(response.content.decode())
    return pages


def every_console_page(client) -> list[str]:
    """The console's pages for an administrator: each registered list, its add and export pages, one record's
    change, history and delete pages and custom views, the operator's own pages, and whatever else a link reaches."""
    from tests.participants.test_admin_permissions import custom_urls, registered_admins, some_object_pk

    listed = ["/admin/", "/admin/account/sessions/", "/admin/account/second-factor/enrol/", "/admin/password_change/"]
    for model, model_admin in registered_admins():
        base, pk = f"/admin/{model._meta.app_label}/{model._meta.model_name}/", some_object_pk(model)
        listed += [base, f"{base}add/", *([f"{base}export/"] if hasattr(model_admin, "export_action") else [])]
        listed += [f"{base}{pk}/{view}/" for view in ("change", "history", "delete") if pk]
        listed += custom_urls(model_admin, pk)
    return list(dict.fromkeys([*listed, *console_pages(client)]))
