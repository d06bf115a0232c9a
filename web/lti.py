"""LTI 1.3 endpoints: the tool's key set, OIDC login initiation, the launch, the new-window hand-off, and the
instructor's view of grade sync.

Framing and cookies change only for sessions that began with a launch: those pages may be framed by the launching
LMS (frame-ancestors), and their session cookie is SameSite=None; Secure; Partitioned so it works inside the LMS's
iframe. The stand-alone site keeps `frame-ancestors 'none'` and SameSite=Lax. Only /lti/login and /lti/launch are
exempt from CSRF: the platform posts them, and the signed id_token with its one-time state and nonce protects them.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_login import login_required, login_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional

from web.extensions import csrf, limiter
from web.instructor import instructor_required, managed_cohort, role_required
from web.security import policy_for, public_url
from web.services import lti as svc

bp = Blueprint("lti", __name__, url_prefix="/lti")
admin_required = role_required(lambda user: user.is_admin)
# The session key that marks a session begun by a launch: {"platform": id, "frame": [origins allowed to frame it]}.
SESSION_KEY = "lti"
# Set at login initiation, compared at launch: proves the launch comes back to the browser that started the login.
STATE_COOKIE = "lti_state"
# An open deep-linking request (instructors picking links for the LMS), until its answer is sent back.
DEEP_LINK_KEY = "lti_deep_link"
# This one response (not the session) may be framed by every registered LMS: kept with the request, not in `g`.
FRAME_ENVIRON_KEY = "web.lti.frame_ancestors"
# Per address: a seminar room behind one NAT opens the tool at once, so generous; it caps login-state rows per minute.
LAUNCH_RATE_LIMIT = "600/minute"


def launched_session() -> dict | None:
    """Return the LTI marker of the current session, or None for a stand-alone session."""
    marker = session.get(SESSION_KEY)
    return marker if isinstance(marker, dict) else None


class LtiSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the cookie attributes an LMS iframe needs for launched sessions only."""

    def get_cookie_samesite(self, app: Flask) -> str | None:
        """SameSite=None inside an LMS (its iframe is a third-party context), the site's setting otherwise."""
        return "None" if launched_session() else super().get_cookie_samesite(app)

    def get_cookie_secure(self, app: Flask) -> bool:
        """Browsers take SameSite=None cookies only when Secure."""
        return True if launched_session() else super().get_cookie_secure(app)

    def get_cookie_partitioned(self, app: Flask) -> bool:
        """Partitioned (CHIPS): the cookie lives only under the LMS that framed the site."""
        return True if launched_session() else super().get_cookie_partitioned(app)


def frame_ancestors() -> list[str] | None:
    """Return the origins that may frame this response (a launched session's LMS), or None for 'none'."""
    if FRAME_ENVIRON_KEY in request.environ:
        return request.environ[FRAME_ENVIRON_KEY]
    if request.endpoint in ("static", "core.brand_css"):
        return None  # never framed, and reading the session would add Vary: Cookie to cacheable files
    marker = launched_session()
    return list(marker.get("frame") or []) if marker else None


def _framed_by_any_platform() -> None:
    """Let every registered LMS frame this response: a refused launch must be readable inside the LMS's iframe."""
    request.environ[FRAME_ENVIRON_KEY] = svc.all_frame_origins()


def init_app(app: Flask) -> None:
    """Install the launched-session cookie settings and the framing rule (web.security reads it)."""
    app.session_interface = LtiSessionInterface()
    app.extensions["frame_ancestors"] = frame_ancestors


def _error(exc: svc.LtiError, status: int = 400) -> tuple[str, int]:
    """Render a refused launch with the reason, as a page the LMS's iframe can show."""
    _framed_by_any_platform()
    return render_template("lti/error.html", message=str(exc)), status


@bp.get("/jwks.json")
def jwks() -> Response:
    """Publish the tool's public keys (current and recently rotated), for platforms to check its signatures."""
    response = jsonify(svc.public_jwks())
    # Platforms cache key sets; an hour keeps a rotation visible soon enough.
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.route("/login", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit(LAUNCH_RATE_LIMIT)
def login() -> Response | tuple[str, int]:
    """OIDC third-party login initiation: store state and nonce, send the browser to the platform's auth endpoint."""
    params = {k: request.values.get(k, "") for k in ("iss", "login_hint", "target_link_uri", "lti_message_hint",
                                                       "client_id", "lti_deployment_id")}
    try:
        url, state = svc.begin_login(params, public_url("lti.launch"))
    except svc.LtiError as exc:
        return _error(exc)
    response = redirect(url, code=302)
    response.set_cookie(STATE_COOKIE, state, max_age=int(svc.STATE_MAX_AGE.total_seconds()), path=url_for(
        "lti.launch"), secure=True, httponly=True, samesite="None", partitioned=True)
    return response


@bp.post("/launch")
@csrf.exempt
@limiter.limit(LAUNCH_RATE_LIMIT)
def launch() -> Response | tuple[str, int]:
    """Check the platform's id_token and log its person in; a browser that kept no state cookie gets a new window."""
    state = request.form.get("state", "")
    cookie = request.cookies.get(STATE_COOKIE)
    if cookie is not None and cookie != state:
        # A cookie from another login: this POST is not the answer to the login this browser started.
        return _error(svc.LtiError("This launch does not belong to this browser's login (state mismatch). Open the "
                                   "tool again from the LMS."))
    try:
        result = svc.complete_launch(request.form.to_dict())
    except svc.LtiError as exc:
        return _error(exc)
    if cookie is None:
        # Third-party cookies are blocked in this frame: no session could stick here. A one-time pass opens the
        # site in a window of its own, where the ordinary first-party cookie works; a deep-linking request travels
        # with it, and the picker's answer is then posted to the LMS from that window.
        token = svc.new_handoff(result)
        _framed_by_any_platform()
        return render_template("lti/new_window.html", url=url_for("lti.handoff", token=token),
                               deep_link=bool(result.deep_link)), 200
    session.clear()
    login_user(result.user, remember=False)
    session[SESSION_KEY] = {"platform": result.platform.id, "frame": list(result.platform.frame_origins or [])}
    if result.deep_link:
        session[DEEP_LINK_KEY] = result.deep_link
    response = redirect(result.target, code=303)
    response.delete_cookie(STATE_COOKIE, path=url_for("lti.launch"), secure=True, samesite="None", partitioned=True)
    return response


@bp.get("/continue/<token>")
@limiter.limit("30/minute")
def handoff(token: str) -> Response | tuple[str, int]:
    """Spend a one-time pass from a launch whose frame blocked cookies, logging its person in at the top level."""
    try:
        user, target, deep_link = svc.take_handoff(token)
    except svc.LtiError as exc:
        return _error(exc)
    session.clear()
    login_user(user, remember=False)
    if deep_link:
        session[DEEP_LINK_KEY] = deep_link
    return redirect(target, code=303)


@bp.get("/cohorts/<id:cohort_id>")
@instructor_required
def sync_state(cohort_id: int) -> str:
    """Show the LMS courses linked to a cohort and each learner's score sync with the LMS gradebook."""
    cohort = managed_cohort(cohort_id)
    contexts, states = svc.cohort_sync_state(cohort)
    return render_template("lti/sync.html", cohort=cohort, contexts=contexts, states=states,
                           has_roster=any(c.memberships_url for c in contexts))


@bp.post("/cohorts/<id:cohort_id>/roster")
@instructor_required
@limiter.limit("10/minute")
def sync_roster(cohort_id: int) -> Response:
    """Fetch the LMS course's roster now, so learners who have not launched yet are in the cohort."""
    cohort = managed_cohort(cohort_id)  # the CSRF token was checked before the view (CSRFProtect)
    try:
        flash(svc.sync_roster(cohort).summary(), "success")
    except svc.LtiError as exc:
        flash(str(exc), "error")
    return redirect(url_for("lti.sync_state", cohort_id=cohort.id), code=303)


def _deep_link_request() -> dict | None:
    """Return the session's open deep-linking request, or None."""
    pending = session.get(DEEP_LINK_KEY)
    return pending if isinstance(pending, dict) else None


def _picker(error: str = "", picked: tuple[str, ...] = (), status: int = 200) -> tuple[str, int]:
    """Render the deep-linking picker: every lesson and exercise, by module."""
    return render_template("lti/deep_link.html", course=current_app.extensions["course"],
                           error=error, picked=picked, multiple=_deep_link_request()["multiple"]), status


@bp.get("/deep-link")
@login_required
def deep_link() -> tuple[str, int]:
    """Let an instructor who came from the LMS's "add content" pick lessons and exercises to link."""
    if _deep_link_request() is None:
        return _error(svc.LtiError("No request to add links is open. Start from the LMS: add an external tool "
                                   "item and choose this course."))
    return _picker()


@bp.post("/deep-link")
@login_required
def deep_link_post() -> tuple[str, int] | Response:
    """Sign the picked links as the deep-linking response and hand the instructor a button that posts it back."""
    pending = _deep_link_request()
    if pending is None:
        return _error(svc.LtiError("No request to add links is open. Start again from the LMS."))
    picked = tuple(request.form.getlist("item"))
    if not picked:
        return _picker("Pick at least one lesson or exercise.", picked, 422)
    if len(picked) > 1 and not pending["multiple"]:
        return _picker("This LMS takes one item at a time here: pick just one.", picked, 422)
    try:
        items = svc.deep_link_items(current_app.extensions["course"], list(picked))
        token = svc.deep_link_response(pending, items)
    except svc.LtiError as exc:
        return _picker(str(exc), picked, 422)
    session.pop(DEEP_LINK_KEY, None)
    response = make_response(render_template("lti/deep_link_return.html", return_url=pending["return_url"],
                                             token=token, items=items, window=launched_session() is None))
    # The answer is a form posted to the LMS, which the site's CSP allows only for this page and this LMS.
    response.headers["Content-Security-Policy"] = policy_for(frame_ancestors(),
                                                             (svc.origin_of(pending["return_url"]),))
    return response


@bp.get("/canvas.json")
def canvas_json() -> Response:
    """The Canvas developer key's JSON configuration: what a Canvas admin pastes (or points to) to add the tool."""
    return jsonify(svc.canvas_configuration())


@bp.get("/register")
@limiter.limit("10/minute")
def register() -> tuple[str, int]:
    """LTI Dynamic Registration, opened by the LMS with its configuration; needs the key from a registration URL."""
    try:
        platform = svc.register_dynamically(request.args.get("key", ""), request.args.get("openid_configuration", ""),
                                            request.args.get("registration_token", ""))
    except svc.LtiError as exc:
        _framed_by_any_platform()
        return render_template("lti/error.html", message=str(exc), title="The registration did not finish"), 400
    request.environ[FRAME_ENVIRON_KEY] = list(platform.frame_origins or [])
    return render_template("lti/registered.html", platform=platform), 200


class PlatformForm(FlaskForm):
    """An LMS registration, as `course lti add-platform` takes it."""

    name = StringField("Name", validators=[Optional(), Length(max=200)],
                       description="For people, e.g. University Canvas.")
    issuer = StringField("Issuer (iss)", validators=[DataRequired(), Length(max=255)],
                         description="e.g. https://canvas.instructure.com")
    client_id = StringField("Client id", validators=[DataRequired(), Length(max=255)])
    auth_login_url = StringField("Authorisation (OIDC login) URL", validators=[DataRequired(), Length(max=500)])
    token_url = StringField("Token URL", validators=[DataRequired(), Length(max=500)])
    jwks_url = StringField("Key set (JWKS) URL", validators=[DataRequired(), Length(max=500)])
    deployment_ids = TextAreaField("Deployment ids", validators=[Optional(), Length(max=5000)], render_kw={"rows": 3},
                                   description="One per line. Ids already registered stay.")
    frame_origins = TextAreaField("Origins that frame the tool", validators=[Optional(), Length(max=5000)],
                                  render_kw={"rows": 3},
                                  description="One per line, e.g. https://school.instructure.com. Empty: the "
                                              "issuer's and the login URL's origins (or those set before).")
    token_audience = StringField("Client assertion audience", validators=[Optional(), Length(max=500)],
                                 description="Only when the LMS names one other than its token URL (Brightspace).")


class SwitchPlatformForm(FlaskForm):
    """Switch one registered platform on or off (a button on each row of the admin's list)."""

    platform_id = IntegerField(validators=[InputRequired()])
    enabled = StringField(validators=[InputRequired(), AnyOf(["0", "1"])])  # "1" on, "0" off


def _lines(text: str | None) -> list[str]:
    """Split a text area into its non-empty lines."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _platforms_page(form: PlatformForm, error: str = "", status: int = 200) -> tuple[str, int]:
    """Render the admin's list of platforms with the registration form."""
    return render_template("lti/platforms.html", platforms=svc.platforms(), form=form, error=error,
                           switch=SwitchPlatformForm(formdata=None), tool=svc.tool_configuration()), status


@bp.get("/admin")
@admin_required
def platforms() -> tuple[str, int]:
    """List the registered LMS platforms and the tool's own addresses, with a form to add or update one."""
    return _platforms_page(PlatformForm())


@bp.post("/admin")
@admin_required
def platforms_post() -> tuple[str, int] | Response:
    """Register an LMS, or update the one with the same issuer and client id."""
    form = PlatformForm()
    if not form.validate_on_submit():
        return _platforms_page(form, status=422)
    try:
        platform = svc.add_platform(
            issuer=form.issuer.data, client_id=form.client_id.data, auth_login_url=form.auth_login_url.data,
            auth_token_url=form.token_url.data, jwks_url=form.jwks_url.data,
            deployment_ids=_lines(form.deployment_ids.data), name=form.name.data or "",
            frame_origins=_lines(form.frame_origins.data), token_audience=form.token_audience.data or "")
    except svc.LtiError as exc:
        return _platforms_page(form, str(exc).replace("--", "the "), 422)
    flash(f"“{platform.name}” is registered with {len(platform.deployments)} deployment id(s).", "success")
    return redirect(url_for("lti.platforms"), code=303)


@bp.post("/admin/switch")
@admin_required
def switch_platform() -> tuple[str, int] | Response:
    """Switch a platform off (its launches refused, its scores held) or on again."""
    form = SwitchPlatformForm()
    if not form.validate_on_submit():
        return _platforms_page(PlatformForm(formdata=None), "Choose a platform and whether to switch it on or off.",
                               400)
    try:
        platform = svc.switch_platform(form.platform_id.data, form.enabled.data == "1")
    except svc.LtiError as exc:
        return _platforms_page(PlatformForm(formdata=None), str(exc), 404)
    if platform.enabled:
        flash(f"“{platform.name}” is on: it can launch the course again, and its waiting scores go out.", "success")
    else:
        flash(f"“{platform.name}” is off: its launches are refused and its scores wait until it is on again.",
              "success")
    return redirect(url_for("lti.platforms"), code=303)
