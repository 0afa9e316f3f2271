"""The administrator's console (`masp web`, SPEC R17 and §5): server-rendered pages over the
same steps the commands use.

Adding a page (see `board.py` for a whole example):

- In a module of this package, `pages = Pages()`, then declare each route with the roles that
  may open it: `@pages.get("/meetings", READERS, nav="Meetings")` or `@pages.post(...)`. The
  function takes a `Visit` and returns a Starlette `Response`. Add the module's `pages` to
  `PAGE_MODULES` in `app.py` (its order is the navigation's order).
- `Visit` holds `request`, `app` (the opened App), `user` (`User`: email, name, role), `form`
  (a POST's text fields), `now` (the service's clock) and `actor` ("web:jo@example.org"). Use
  `visit.render("x.html", **context)`, `visit.redirect(path, message)` (303, message shown on
  arrival), `visit.audit(session, case, action, **detail)` (audited with the person) and
  `with visit.exclusive():` around an action that changes cases or reads attachments.
- Read with `visit.app.store.reading()` (no write lock), act with `visit.app.store.session()`.
  Keep queries out of templates: a small function returning frozen dataclasses.
- Refuse a record the role does not reach with `raise Forbidden(reason)` (403 page); a
  `NotFound` gives the 404 page and any other `PipelineError` a 400 page with its message.
- Templates extend `base.html` (`{% block content %}`), autoescaped and strict-undefined; every
  form is `method="post"` with `<input type="hidden" name="csrf_token" value="{{ csrf_token }}">`
  (checked before the page function runs). No inline script or style: the CSP forbids it.
"""
