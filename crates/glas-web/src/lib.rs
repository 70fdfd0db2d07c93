//! glas-web: the analysts' workspace and the HTTP API over the store
//! (`glas serve`).
//!
//! Every page and API call needs a session (log in at `/login`) or an API
//! token (`Authorization: Bearer`); roles decide what each may do
//! ([`auth`], [`accounts`]). Logins, searches, exports and changes are
//! written to the audit log.
//!
//! | method and path | does | least role |
//! |---|---|---|
//! | `GET /login`, `POST /login`, `POST /logout` | the session | — |
//! | `GET /` | «Обзор»: tension grid, open episodes, volume, sources ([`overview`]) | viewer |
//! | `GET /search`, `GET /search/refine` | search as a page: filters, facets, volume chart, exports | analyst |
//! | `GET /mentions/{id}` | one mention: fields, reasons, reprints | viewer |
//! | `GET /searches`, `POST /searches`, `GET`/`POST /searches/{name}/edit`, `POST /searches/{name}/delete` | saved searches, their recipients and last digests | analyst |
//! | `GET /sources` | the source-health ledger, silent and failing first | analyst |
//! | `GET /incidents`, `GET /incidents/{id}`, `POST /incidents/{id}`, `POST /incidents` | incidents: list with filters, card with mentions, deadlines, history and actions; a change (analyst, or the incident's own `service`); one made from mentions (analyst) | service (own incidents only) |
//! | `GET /plan?week=`, `POST /plan`, `POST /plan/{id}/delete` | the media plan of a week against the own channels' publications; rows added and removed (analyst) | viewer |
//! | `GET /signals`, `POST /signals/note` | episodes with their life, figures and evidence; notes and acknowledgement (analyst) | viewer |
//! | `GET /reports`, `GET /reports/{file}`, `POST /reports` | weekly reports; a week made on demand (analyst) | viewer |
//! | `GET /admin/users`, `POST /admin/users`, `POST /admin/users/{name}/disable`, `GET /admin/audit` | accounts and the audit log | admin |
//! | `GET /api` | what this server is | viewer |
//! | `GET /api/search` | a page of hits: `q`, `since`, `from`, `to`, `sort`, `page`, `size`, `collapse`, `facets` | analyst |
//! | `GET /api/facets` | hits per source, topic, place, sentiment, type, day for the same parameters | analyst |
//! | `GET /api/mentions/{id}` | one mention with its enrichment | viewer |
//! | `GET /api/export` | every matching mention as `format=csv`, `xlsx` (up to 100,000) or `jsonl`, streamed | analyst |
//! | `GET /api/searches`, `POST /api/searches`, `PUT /api/searches/{name}`, `DELETE /api/searches/{name}` | saved searches | analyst |
//! | `GET /api/incidents`, `GET /api/incidents/{id}`, `POST /api/incidents`, `POST /api/incidents/{id}` | incidents as JSON (`status`, `service`, `overdue` filters); create from mentions (analyst); a change `{"action": ...}` (analyst, or the incident's service) | service (own incidents only) |
//! | `GET /api/openapi.json` | this API as OpenAPI 3.0 | viewer |
//!
//! Every response carries security headers ([`headers`]): a
//! Content-Security-Policy that allows no script and nothing from elsewhere,
//! `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff`.
//!
//! Every error is JSON: `{"error": code, "reason": English, "reason_ru":
//! Russian, "position": n}` (position only for query syntax errors). Limits:
//! queries up to [`glas_core::query::MAX_QUERY_CHARS`] characters, pages up to
//! [`glas_store::search::MAX_PAGE`] hits and [`MAX_OFFSET`] deep, request
//! bodies up to 64 KiB, and a time limit per request ([`Limits`]).
//!
//! [`router`] builds the whole service from an [`AppState`]; tests call it
//! without a socket.

pub mod accounts;
pub mod auth;
mod headers;
mod incidents_page;
mod mention_page;
mod openapi;
pub mod overview;
mod page;
mod plan_page;
mod region_page;
mod saved_page;
mod search_page;
pub mod serve;
mod signals_page;
mod status_pages;

pub use status_pages::Stages;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json};
use chrono::{NaiveDate, Utc};
use glas_core::config::SavedSearch;
use glas_core::query::{MAX_QUERY_CHARS, QueryError};
use glas_store::saved::{SavedError, SavedSearches};
use glas_store::search::MAX_PAGE;
use glas_store::{ExportFormat, SearchRequest, Sort, Store, StoreError};

use accounts::{AccountError, Accounts, Principal, Role};
use serde::Deserialize;

/// Deepest result accepted (`(page - 1) * size`): paging further is a sign
/// the query should be narrowed, and costs every request after it.
pub const MAX_OFFSET: usize = 10_000;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time a search, facet count or lookup may take.
    pub timeout: Duration,
    /// Time an export may take in all.
    pub export_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { timeout: Duration::from_secs(10), export_timeout: Duration::from_secs(600) }
    }
}

/// What the handlers share.
pub struct AppState {
    pub store: Arc<Store>,
    pub data_dir: PathBuf,
    /// The pipeline file's saved searches (read-only through the API).
    pub pipeline_searches: Vec<SavedSearch>,
    pub tz: chrono_tz::Tz,
    pub limits: Limits,
    /// Accounts, sessions, tokens and the audit log (`DATA/workspace.sqlite`,
    /// `DATA/audit.jsonl`).
    pub accounts: Arc<Accounts>,
    /// The pipeline's analyzer, for the reasons on a mention's page (none:
    /// the page shows the stored fields alone).
    pub analyzer: Option<Arc<glas_nlp::Analyzer>>,
    /// Source health and reports on demand (none: those pages say so).
    pub stages: Option<Arc<dyn Stages>>,
    /// The landing page's panels (`dashboards/overview.toml`).
    pub overview: Arc<overview::Overview>,
    /// The pipeline's taxonomy as (code, Russian name), for the topic filter
    /// and every topic shown (default: the built-in taxonomy).
    pub topics: Vec<(String, String)>,
    /// The feedback loop's incidents (none: the pipeline has no routing).
    pub incidents: Option<Arc<glas_incidents::Incidents>>,
    /// Who sees residents' names; everyone else sees pseudonyms.
    pub privacy: Privacy,
    /// The region's other districts this workspace searches too
    /// (`/api/region/search`), and this district's id among them; none: one
    /// district.
    pub region: Option<RegionalView>,
    /// Serializes changes to the saved-search files.
    saved_lock: tokio::sync::Mutex<()>,
}

/// Other districts' stores, opened to read, for the regional search.
pub struct RegionalView {
    /// This workspace's own district's id.
    pub home: String,
    pub others: Vec<glas_store::regional::OpenDistrict>,
    /// District id → the name people read (`[district] name`).
    pub names: std::collections::BTreeMap<String, String>,
}

impl RegionalView {
    /// A district's name as people read it (its id when it has none).
    pub fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map_or(id, String::as_str)
    }
}

/// `[privacy]` in the workspace: the roles with the right to residents'
/// personal data, and the data dir's key for everyone else's pseudonyms
/// (the same pseudonyms `[retention]` writes into the log).
pub struct Privacy {
    pub key: glas_store::privacy::PseudonymKey,
    pub personal_data_roles: Vec<Role>,
}

impl AppState {
    pub fn new(
        store: Arc<Store>,
        data_dir: PathBuf,
        pipeline_searches: Vec<SavedSearch>,
        tz: chrono_tz::Tz,
    ) -> Result<AppState, AccountError> {
        let accounts = Arc::new(Accounts::open(&data_dir)?);
        let key = glas_store::privacy::PseudonymKey::load_or_create(&data_dir)
            .map_err(|e| AccountError::Invalid(format!("pseudonym key in '{}': {e}", data_dir.display())))?;
        Ok(AppState {
            store,
            data_dir,
            pipeline_searches,
            tz,
            limits: Limits::default(),
            accounts,
            analyzer: None,
            stages: None,
            overview: Arc::new(overview::Overview::builtin()),
            topics: glas_core::config::builtin_topics().iter().map(|t| (t.code.clone(), t.name.clone())).collect(),
            incidents: None,
            privacy: Privacy { key, personal_data_roles: vec![Role::Analyst, Role::Admin] },
            region: None,
            saved_lock: Default::default(),
        })
    }
}

impl AppState {
    /// The key to hide authors with, for a role without the right to
    /// personal data; `None` for one with it.
    pub fn pseudonyms(&self, who: &Principal) -> Option<&glas_store::privacy::PseudonymKey> {
        (!self.privacy.personal_data_roles.contains(&who.role)).then_some(&self.privacy.key)
    }

    /// Refuses a search by author (`author:`) to a role without the right
    /// to personal data: pseudonyms in the answers would not hide a name
    /// the query could test.
    pub fn check_author_query(&self, who: &Principal, q: &str) -> Result<(), ApiError> {
        if self.pseudonyms(who).is_some() && glas_core::query::parse(q).is_ok_and(|n| n.names_author()) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "searching by author needs the right to personal data",
                "поиск по автору доступен только тем, кому разрешена работа с персональными данными",
            ));
        }
        Ok(())
    }

    /// A search in the audit log (query, period, page; `region` for one
    /// across the region's districts).
    pub(crate) fn audit_search(&self, who: &Principal, p: &SearchParams, region: bool) {
        let mut details = serde_json::json!({"q": p.q, "since": p.since, "page": p.page});
        if region {
            details["region"] = true.into();
        }
        self.accounts.record(&who.name, "search", details, who.ip.clone());
    }

    /// Whether `who` may search across the region: the workspace has other
    /// districts and the account covers one of them.
    pub fn searches_region(&self, who: &Principal) -> bool {
        self.region.as_ref().is_some_and(|r| r.others.iter().any(|d| who.districts.covers(&d.id)))
    }

    /// A district's name as people read it (its id when it has none, or on
    /// a one-district workspace).
    pub fn district_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.region.as_ref().map_or(id, |r| r.name(id))
    }

    /// A topic's Russian name in the pipeline's taxonomy (the code when it
    /// has none, as for a topic a changed taxonomy no longer has).
    pub fn topic_name<'a>(&'a self, code: &'a str) -> &'a str {
        self.topics.iter().find(|(c, _)| c == code).map_or(code, |(_, n)| n.as_str())
    }
}

/// The workspace's and the API's routes over `state`, behind [`auth::gate`].
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` so
/// the audit log records the client's address.
pub fn router(state: Arc<AppState>) -> axum::Router {
    axum::Router::new()
        .route("/login", get(auth::login_get).post(auth::login_post))
        .route("/logout", post(auth::logout))
        .route("/", get(overview::overview_page))
        .route("/admin/users", get(page::users_page).post(page::add_user))
        .route("/admin/users/{name}/disable", post(page::disable_user))
        .route("/admin/users/{name}/districts", post(page::set_districts))
        .route("/admin/audit", get(page::audit_page))
        .route("/api", get(index))
        .route("/search", get(search_page::search_page))
        .route("/search/region", get(region_page::region_page))
        .route("/search/refine", get(search_page::refine))
        .route("/mentions/{id}", get(mention_page::mention_page))
        .route("/sources", get(status_pages::sources_page))
        .route("/searches", get(saved_page::searches_page).post(saved_page::save_search))
        .route("/searches/{name}/delete", post(saved_page::delete_search))
        .route("/searches/{name}/edit", get(saved_page::edit_page).post(saved_page::edit_search))
        .route("/incidents", get(incidents_page::list_page).post(incidents_page::create_page))
        .route("/incidents/{id}", get(incidents_page::card_page).post(incidents_page::change_page))
        .route("/api/incidents", get(incidents_page::api_list).post(incidents_page::api_create))
        .route("/api/incidents/{id}", get(incidents_page::api_get).post(incidents_page::api_change))
        .route("/plan", get(plan_page::plan_page).post(plan_page::add_row))
        .route("/plan/{id}/delete", post(plan_page::delete_row))
        .route("/signals", get(signals_page::signals_page))
        .route("/signals/note", post(signals_page::add_note))
        .route("/reports", get(status_pages::reports_page).post(status_pages::make_report))
        .route("/reports/{name}", get(status_pages::report_file_get))
        .route("/api/search", get(search))
        .route("/api/region/search", get(region_search))
        .route("/api/region/export", get(region_export))
        .route("/api/facets", get(facets))
        .route("/api/mentions/{id}", get(mention))
        .route("/api/export", get(export))
        .route("/api/searches", get(list_searches).post(create_search))
        .route("/api/searches/{name}", axum::routing::delete(delete_search).put(update_search))
        .route("/api/openapi.json", get(openapi))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::gate))
        .layer(axum::middleware::from_fn(headers::secure))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

/// An error as the API reports it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    reason: String,
    reason_ru: String,
    position: Option<usize>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        code: &'static str,
        reason: impl Into<String>,
        reason_ru: impl Into<String>,
    ) -> ApiError {
        ApiError { status, code, reason: reason.into(), reason_ru: reason_ru.into(), position: None }
    }

    fn bad_request(reason: impl Into<String>, reason_ru: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", reason, reason_ru)
    }

    fn query(e: QueryError) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "query_syntax",
            reason: format!("position {}: {}", e.position, e.message_en),
            reason_ru: format!("позиция {}: {}", e.position, e.message_ru),
            position: Some(e.position),
        }
    }

    fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "API request failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string(), "внутренняя ошибка сервера")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Query(q) => ApiError::query(q),
            e => ApiError::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({"error": self.code, "reason": self.reason, "reason_ru": self.reason_ru});
        if let Some(p) = self.position {
            body["position"] = p.into();
        }
        (self.status, Json(body)).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn query_rejection(e: QueryRejection) -> ApiError {
    ApiError::bad_request(format!("invalid parameters: {}", e.body_text()), "неверные параметры запроса")
}

/// Runs blocking store work off the async threads, within a time limit.
async fn blocking<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    match tokio::time::timeout(limit, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(r)) => r,
        Ok(Err(join)) => Err(ApiError::internal(join)),
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("the request took longer than {} s; narrow the query", limit.as_secs()),
            format!("запрос выполнялся дольше {} с — сузьте его", limit.as_secs()),
        )),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchParams {
    #[serde(default)]
    q: String,
    since: Option<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    #[serde(default)]
    sort: Sort,
    page: Option<usize>,
    size: Option<usize>,
    collapse: Option<bool>,
    facets: Option<bool>,
    /// Count every match even when newest first without facets (otherwise
    /// the total may be estimated from the newest hours).
    exact_total: Option<bool>,
    /// Export only: csv, xlsx or jsonl.
    format: Option<String>,
    /// Regional search and export only: the districts (ids, separated by
    /// commas) to search among those the account covers; none: all of them.
    district: Option<String>,
}

impl SearchParams {
    /// Refuses `district` where only this district is searched: silently
    /// ignoring it would answer another question than the one asked.
    fn one_district(&self) -> ApiResult<()> {
        if self.district.is_some() {
            return Err(ApiError::bad_request(
                "district is a parameter of /api/region/search and /api/region/export",
                "параметр district — для поиска и выгрузки по региону (/api/region/...)",
            ));
        }
        Ok(())
    }

    /// The districts `district` names, among `covered`; all when it names none.
    fn only_districts(
        &self,
        mut covered: Vec<glas_store::regional::OpenDistrict>,
    ) -> ApiResult<Vec<glas_store::regional::OpenDistrict>> {
        let only: Vec<&str> =
            self.district.as_deref().unwrap_or("").split(',').map(str::trim).filter(|d| !d.is_empty()).collect();
        if only.is_empty() {
            return Ok(covered);
        }
        covered.retain(|d| only.contains(&d.id.as_str()));
        if covered.is_empty() {
            return Err(ApiError::bad_request(
                format!("district {:?}: none of them is a district this account may search", only.join(",")),
                "указанных округов нет среди тех, где вам открыт поиск".to_string(),
            ));
        }
        Ok(covered)
    }

    fn request(&self, st: &AppState) -> ApiResult<SearchRequest> {
        if self.q.chars().count() > MAX_QUERY_CHARS {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "query_too_long",
                format!("the query is longer than {MAX_QUERY_CHARS} characters"),
                format!("запрос длиннее {MAX_QUERY_CHARS} символов"),
            ));
        }
        let size = self.size.unwrap_or(20);
        if !(1..=MAX_PAGE).contains(&size) {
            return Err(ApiError::bad_request(
                format!("size must be 1 to {MAX_PAGE}"),
                format!("size — от 1 до {MAX_PAGE}"),
            ));
        }
        let page = self.page.unwrap_or(1);
        let offset = page.checked_sub(1).and_then(|p| p.checked_mul(size)).filter(|o| *o <= MAX_OFFSET);
        let Some(offset) = offset else {
            return Err(ApiError::bad_request(
                format!("page must be 1 or more, and (page - 1) * size at most {MAX_OFFSET}; narrow the query instead"),
                format!("page — от 1, и (page - 1) * size не больше {MAX_OFFSET}; лучше сузьте запрос"),
            ));
        };
        let (since, until) = glas_store::time_window(self.since.as_deref(), self.from, self.to, st.tz, Utc::now())
            .map_err(|e| ApiError::bad_request(e.clone(), e))?;
        Ok(SearchRequest {
            query: self.q.clone(),
            since,
            until,
            tz: st.tz,
            sort: self.sort,
            offset,
            limit: size,
            collapse: self.collapse.unwrap_or(true),
            facets: self.facets.unwrap_or(false),
            after_seq: None,
            exact_total: self.exact_total.unwrap_or(false),
        })
    }
}

async fn index() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "name": "glas",
        "version": env!("CARGO_PKG_VERSION"),
        "openapi": "/api/openapi.json",
        "search_page": "/search?q=",
        "login": "/login",
    }))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint; see /api/openapi.json", "нет такого адреса")
}

async fn openapi() -> Json<serde_json::Value> {
    Json(openapi::document())
}

async fn search(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> ApiResult<Json<glas_store::SearchResults>> {
    let Query(p) = params.map_err(query_rejection)?;
    p.one_district()?;
    let req = p.request(&st)?;
    st.check_author_query(&who, &req.query)?;
    st.audit_search(&who, &p, false);
    let store = st.store.clone();
    let key = st.pseudonyms(&who).cloned();
    blocking(st.limits.timeout, move || {
        let mut found = store.search(&req)?;
        if let Some(k) = &key {
            for h in &mut found.hits {
                h.author = h.author.take().map(|a| k.pseudonym(&a));
            }
        }
        Ok(Json(found))
    })
    .await
}

/// The search across the region's districts: this one and those the
/// workspace was started with (`glas serve --district`).
async fn region_search(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> ApiResult<Json<glas_store::regional::RegionalResults>> {
    let Query(p) = params.map_err(query_rejection)?;
    let req = p.request(&st)?;
    st.check_author_query(&who, &req.query)?;
    st.audit_search(&who, &p, true);
    Ok(Json(regional_search(&st, &who, &p, req).await?))
}

/// The districts `who` may search across: this one and the others the
/// account covers ([`accounts::Districts`]); refused to an account that
/// covers none, or on a one-district workspace. Shared by the search and
/// the export.
pub(crate) fn regional_districts(st: &AppState, who: &Principal) -> ApiResult<Vec<glas_store::regional::OpenDistrict>> {
    let Some(region) = &st.region else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "this workspace serves one district (start it with --district to search a region)",
            "этот сервер работает с одним округом: поиск по региону не настроен",
        ));
    };
    let others: Vec<_> = region.others.iter().filter(|d| who.districts.covers(&d.id)).cloned().collect();
    if others.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this account's regional search covers no other district (glas user districts NAME ...)",
            "ваша учётная запись охватывает только этот округ: поиск по региону открывает администратор",
        ));
    }
    let mut districts =
        vec![glas_store::regional::OpenDistrict { id: region.home.clone(), tz: st.tz, store: Ok(st.store.clone()) }];
    districts.extend(others);
    Ok(districts)
}

/// Runs a regional search for `who` (authors as pseudonyms for a role
/// without the right to personal data) over the districts it covers, or
/// those of them `p.district` names. Shared by the API and the page.
pub(crate) async fn regional_search(
    st: &Arc<AppState>,
    who: &Principal,
    p: &SearchParams,
    req: SearchRequest,
) -> ApiResult<glas_store::regional::RegionalResults> {
    st.check_author_query(who, &req.query)?;
    let districts = p.only_districts(regional_districts(st, who)?)?;
    let key = st.pseudonyms(who).cloned();
    blocking(st.limits.timeout, move || {
        let mut found = glas_store::regional::search(&districts, &req);
        if let Some(k) = &key {
            for h in &mut found.hits {
                h.hit.author = h.hit.author.take().map(|a| k.pseudonym(&a));
            }
        }
        Ok(found)
    })
    .await
}

async fn facets(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Query(p) = params.map_err(query_rejection)?;
    p.one_district()?;
    let mut req = p.request(&st)?;
    st.check_author_query(&who, &req.query)?;
    req.facets = true;
    req.limit = 1;
    req.collapse = false;
    let store = st.store.clone();
    blocking(st.limits.timeout, move || {
        let r = store.search(&req)?;
        Ok(Json(serde_json::json!({"total": r.total, "facets": r.facets})))
    })
    .await
}

async fn mention(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<glas_store::StoredMention>> {
    let store = st.store.clone();
    let found = blocking(st.limits.timeout, move || Ok(store.get(&id)?.ok_or(id))).await?;
    let key = st.pseudonyms(&who);
    found
        .map(|mut m| {
            if let Some(k) = key {
                m.author = m.author.map(|a| k.pseudonym(&a));
            }
            Json(m)
        })
        .map_err(|id| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no mention with id {id:?}"),
                "такой публикации нет",
            )
        })
}

/// Hands what the export writes to the response body in 64 KiB chunks, and
/// stops the export when the client goes away or the time limit passes.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<bytes::Bytes>,
    buf: Vec<u8>,
    deadline: std::time::Instant,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if std::time::Instant::now() > self.deadline {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "export time limit reached"));
        }
        let chunk = bytes::Bytes::from(std::mem::take(&mut self.buf));
        // The client went away: stop exporting.
        self.tx.blocking_send(chunk).map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client gone"))
    }
}

async fn export(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(p) = params.map_err(query_rejection)?;
    p.one_district()?;
    let (format, req) = export_request(&st, &who, &p)?;
    let part = ExportPart { district: None, store: st.store.clone(), req };
    stream_export(&st, &who, &p, format, vec![part]).await
}

/// `/api/region/export`: every hit of the regional search, district after
/// district, each row naming its district. A district that cannot be read
/// refuses the export (it would be silently incomplete).
async fn region_export(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(p) = params.map_err(query_rejection)?;
    let (format, req) = export_request(&st, &who, &p)?;
    let districts = p.only_districts(regional_districts(&st, &who)?)?;
    let mut parts = Vec::with_capacity(districts.len());
    for d in districts {
        let store = d.store.map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "district_unavailable",
                format!("district {:?} cannot be read ({e}); the export would be incomplete", d.id),
                format!("округ «{}» недоступен: выгрузка была бы неполной", st.district_name(&d.id)),
            )
        })?;
        parts.push(ExportPart { district: Some(d.id), store, req: SearchRequest { tz: d.tz, ..req.clone() } });
    }
    stream_export(&st, &who, &p, format, parts).await
}

/// An export's format and search, checked whole before the response starts
/// streaming: a bad format, query or author search is an error, not a cut
/// file.
fn export_request(st: &AppState, who: &Principal, p: &SearchParams) -> ApiResult<(ExportFormat, SearchRequest)> {
    let format = match p.format.as_deref() {
        None => ExportFormat::Jsonl,
        Some(f) => ExportFormat::parse(f).ok_or_else(|| {
            ApiError::bad_request("format must be csv, xlsx or jsonl", "format — csv, xlsx или jsonl")
        })?,
    };
    let req = p.request(st)?;
    glas_core::query::parse(&req.query).map_err(ApiError::query)?;
    st.check_author_query(who, &req.query)?;
    Ok((format, req))
}

/// One store's share of an export (`district`: in a regional export).
struct ExportPart {
    district: Option<String>,
    store: Arc<Store>,
    req: SearchRequest,
}

/// Counts, audits and streams an export of `parts`.
async fn stream_export(
    st: &Arc<AppState>,
    who: &Principal,
    p: &SearchParams,
    format: ExportFormat,
    parts: Vec<ExportPart>,
) -> ApiResult<Response> {
    // How many the export holds: for the audit log, and a workbook is built
    // whole before it is sent (say so before building one too big).
    let counts: Vec<(Arc<Store>, SearchRequest)> = parts
        .iter()
        .map(|x| {
            let mut count = x.req.clone();
            (count.limit, count.collapse, count.facets) = (0, false, false);
            (x.store.clone(), count)
        })
        .collect();
    let total = blocking(st.limits.timeout, move || {
        let mut n = 0;
        for (store, req) in &counts {
            n += store.search(req)?.total;
        }
        Ok(n)
    })
    .await?;
    if format == ExportFormat::Xlsx {
        let max = glas_store::export::XLSX_MAX_ROWS;
        if total > max {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_many_for_xlsx",
                format!("{total} mentions match; an XLSX export holds at most {max}: narrow the search or export CSV"),
                format!("найдено {total}, а в XLSX помещается не больше {max}: сузьте поиск или выгрузите CSV"),
            ));
        }
    }
    // Residents' posts are personal data: who exported what, and how many,
    // is kept; and whether the authors went out as names or pseudonyms.
    let key = st.pseudonyms(who).cloned();
    let mut detail = serde_json::json!({
        "q": p.q, "since": p.since, "from": p.from, "to": p.to, "format": format.extension(),
        "count": total, "authors": if key.is_some() { "pseudonyms" } else { "names" },
    });
    let regional: Vec<String> = parts.iter().filter_map(|x| x.district.clone()).collect();
    if !regional.is_empty() {
        detail["districts"] = regional.into();
    }
    st.accounts.record(&who.name, "export", detail, who.ip.clone());
    let names: Vec<String> =
        parts.iter().map(|x| st.district_name(x.district.as_deref().unwrap_or("")).to_string()).collect();
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(8);
    let deadline = std::time::Instant::now() + st.limits.export_timeout;
    tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter { tx, buf: Vec::new(), deadline };
        let written = match parts.as_slice() {
            [ExportPart { district: None, store, req }] => {
                glas_store::export::write(store, req, format, &mut w, key.as_ref())
            }
            _ => {
                let regional: Vec<glas_store::export::Part<'_>> = parts
                    .iter()
                    .zip(&names)
                    .map(|(x, name)| glas_store::export::Part {
                        district: x.district.as_deref().unwrap_or(""),
                        name,
                        store: &x.store,
                        req: &x.req,
                    })
                    .collect();
                glas_store::export::write_regional(&regional, format, &mut w, key.as_ref())
            }
        };
        let r = written.and_then(|n| {
            std::io::Write::flush(&mut w).map_err(StoreError::Export)?;
            Ok(n)
        });
        if let Err(e) = r {
            // The response is cut short; the client sees an incomplete file.
            tracing::warn!(error = %e, "export stopped");
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
    });
    let name = format!("glas-export-{}.{}", Utc::now().format("%Y%m%d-%H%M"), format.extension());
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

fn saved_error(e: SavedError) -> ApiError {
    match e {
        SavedError::Query(q) => ApiError::query(q),
        SavedError::Invalid(r) => ApiError::bad_request(r.clone(), r),
        SavedError::Exists(n) => ApiError::new(
            StatusCode::CONFLICT,
            "exists",
            format!("a saved search named {n:?} already exists"),
            format!("поиск «{n}» уже есть"),
        ),
        SavedError::InPipeline(n) => ApiError::new(
            StatusCode::CONFLICT,
            "in_pipeline",
            format!("saved search {n:?} is defined in the pipeline file; change it there"),
            format!("поиск «{n}» задан в файле конфигурации — меняйте его там"),
        ),
        SavedError::Store(e) => ApiError::internal(e),
    }
}

/// A saved search sent as JSON, or why it cannot be read.
fn saved_search_body(body: Result<Json<SavedSearch>, JsonRejection>) -> ApiResult<SavedSearch> {
    body.map(|Json(s)| s).map_err(|e| {
        ApiError::bad_request(
            format!("the body must be JSON {{\"name\", \"query\", \"to\"}}: {}", e.body_text()),
            "тело запроса — JSON с полями name, query, to",
        )
    })
}

async fn list_searches(State(st): State<Arc<AppState>>) -> ApiResult<Json<serde_json::Value>> {
    let saved = SavedSearches::new(&st.data_dir);
    let all = saved.all(&st.pipeline_searches).map_err(ApiError::internal)?;
    Ok(Json(serde_json::json!({ "searches": all })))
}

async fn create_search(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    body: Result<Json<SavedSearch>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let search = saved_search_body(body)?;
    let _guard = st.saved_lock.lock().await;
    let seq = st.store.indexed_seq()?;
    let created = SavedSearches::new(&st.data_dir).create(&st.pipeline_searches, search, seq).map_err(saved_error)?;
    st.accounts.record(
        &who.name,
        "saved_search_created",
        serde_json::json!({"name": created.search.name, "query": created.search.query, "recipients": created.search.to}),
        who.ip.clone(),
    );
    Ok((StatusCode::CREATED, Json(serde_json::to_value(created).expect("serializes"))))
}

async fn update_search(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    body: Result<Json<SavedSearch>, JsonRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let search = saved_search_body(body)?;
    let _guard = st.saved_lock.lock().await;
    let updated = SavedSearches::new(&st.data_dir).update(&st.pipeline_searches, &name, search).map_err(saved_error)?;
    let Some(updated) = updated else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no saved search named {name:?}"),
            format!("поиска «{name}» нет"),
        ));
    };
    st.accounts.record(
        &who.name,
        "saved_search_changed",
        serde_json::json!({"name": name, "new_name": updated.search.name, "query": updated.search.query, "recipients": updated.search.to}),
        who.ip.clone(),
    );
    Ok(Json(serde_json::to_value(updated).expect("serializes")))
}

async fn delete_search(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let _guard = st.saved_lock.lock().await;
    match SavedSearches::new(&st.data_dir).delete(&st.pipeline_searches, &name).map_err(saved_error)? {
        true => {
            st.accounts.record(&who.name, "saved_search_deleted", serde_json::json!({"name": name}), who.ip.clone());
            Ok(StatusCode::NO_CONTENT)
        }
        false => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no saved search named {name:?}"),
            format!("поиска «{name}» нет"),
        )),
    }
}
