//! What a handler is given (the state, the caller and the path's parameters, as one
//! extractor), and how it reaches the store in what the path names.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use patgate_domain::Operation;
use patgate_persistence::models::Organization;
use patgate_persistence::{Db, DbConnection};
use serde::de::DeserializeOwned;

use super::{blocking, caller_org, Lookup};
use crate::auth::{AppCaller, InstallationCaller};
use crate::error::ApiError;
use crate::state::AppState;

/// A call of an installation (`C`: [`InstallationCaller`]) or of an app ([`AppCall`]) on what
/// the path names: `P` is one of [`super::params`]' path structs, or `()` for a path without
/// parameters. Extracted exactly as the three would be one after the other in the handler's
/// arguments (actix's tuple extractor): the credential (401, 403), then the path (404), and
/// only then the extractors that follow it, such as the body.
#[derive(Debug)]
pub struct Call<P = (), C = InstallationCaller> {
    pub state: web::Data<AppState>,
    pub caller: C,
    pub path: P,
}

/// A call made with the app's JWT.
pub type AppCall<P = ()> = Call<P, AppCaller>;

/// What a handler answers: a response, or the error GitHub gives.
pub type Reply = Result<HttpResponse, ApiError>;

impl<P, C> FromRequest for Call<P, C>
where
    P: DeserializeOwned + 'static,
    C: FromRequest + 'static,
{
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let parts = <(web::Data<AppState>, C, web::Path<P>)>::from_request(req, payload);
        Box::pin(async move {
            let (state, caller, path) = parts.await?;
            Ok(Self {
                state,
                caller,
                path: path.into_inner(),
            })
        })
    }
}

/// A path that names an organization, `/orgs/{org}/…`.
pub trait InOrg {
    fn org(&self) -> &str;
}

impl<P: InOrg> Call<P> {
    /// The caller's organization the path names (else 404), for `op` (else 403).
    pub(crate) fn in_org(&self, op: Operation) -> Scope<Organization> {
        Scope::new(self, caller_org, self.path.org(), op)
    }
}

/// What a caller asks to do (`op`) in what the path names (`lookup` of `name`): checked, in
/// that order, before [`Scope::read`] or [`Scope::write`] runs, and both before the request's
/// input is parsed, so that a caller learns nothing of another organization, nor of faults in
/// a request it may not make.
pub(crate) struct Scope<S> {
    state: web::Data<AppState>,
    caller: InstallationCaller,
    lookup: Lookup<S>,
    name: String,
    op: Operation,
}

impl<S: 'static> Scope<S> {
    pub(crate) fn new<P>(call: &Call<P>, lookup: Lookup<S>, name: &str, op: Operation) -> Self {
        Self {
            state: call.state.clone(),
            caller: call.caller.clone(),
            lookup,
            name: name.to_owned(),
            op,
        }
    }

    /// Reads in the scope, once it is checked, on one pooled connection.
    pub(crate) async fn read<T, F>(self, read_scope: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection, S) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        blocking(move || {
            let db = &self.state.db;
            let scope = self.check(db)?;
            read_scope(&mut **db.conn()?, scope)
        })
        .await
    }

    /// Changes the scope: once it is checked, `change` parses the input and calls
    /// [`Db::write`] with what the change touches. The organization a path names is kept in
    /// memory ([`Db::kept_org`]), so the check usually takes no connection at all.
    pub(crate) async fn write<T, F>(self, change: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Db, S) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        blocking(move || {
            let db = &self.state.db;
            let scope = self.check(db)?;
            change(db, scope)
        })
        .await
    }

    fn check(&self, db: &Db) -> Result<S, ApiError> {
        let scope = (self.lookup)(db, &self.caller, &self.name)?;
        self.caller.authorize(self.op)?;
        Ok(scope)
    }
}
