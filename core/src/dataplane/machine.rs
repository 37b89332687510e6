//! `authenticate`, `verify` and `authorize` as a hand-written step machine the caller owns
//! (DESIGN.md, "A data plane of its own"; quinn-proto's `Connection` style). The hot path pays
//! for no boxed future, no waker and no lock of its own: [`DataPlane`] is a plain value moved
//! from state to state by [`crate::Op::step`] and [`crate::Op::provide`].
//!
//! The states: start → read the token (verify, authenticate) → read the account, the tenant
//! asked about, the membership there and a rotation's predecessor → the throttled last-use
//! stamp → done; `authorize` reads its subject in one round. A round the staleness
//! window answers costs no step at all. At most two read rounds and one write.

use std::sync::Arc;

use serde_json::Value;

use crate::audit::{details, AuditEvent};
use crate::call::{Answer, Authenticate, Authorize, Verify};
use crate::docs::{token_key, TokenDoc};
use crate::engine::Inner;
use crate::error::{Error, Result};
use crate::op::{got, replies_for, Doc, Env, Step};
use crate::recent::{self, Round, Stamp};
use crate::records::Decision;
use crate::store::{StoreReply, StoreRequest, Versioned};
use crate::tokens::format;

use super::credentials::{account_read, nobody, stamp_due, token_read, Failed};
use super::{asked, decide, decision_details, decision_event, denied, identity_of, status_error, subject_keys};
use super::{subject_read, Asked};

/// Which decision a [`DataPlane`] makes, with its arguments.
pub(crate) enum Plane {
    /// `authenticate`: raises on failure.
    Authenticate(Authenticate),
    /// `verify`: credential failures are data in the decision.
    Verify(Verify),
    /// `authorize`: an identity's or principal's rights, no secret.
    Authorize(Authorize),
}

impl Plane {
    /// `authenticate` (R-10..R-13).
    pub fn authenticate(a: Authenticate) -> Plane {
        Plane::Authenticate(a)
    }

    /// `verify` (R-10..R-15, R-44, R-45).
    pub fn verify(a: Verify) -> Plane {
        Plane::Verify(a)
    }

    /// `authorize`.
    pub fn authorize(a: Authorize) -> Plane {
        Plane::Authorize(a)
    }

    /// The tenant a token check reads with the account: `verify`'s, none for `authenticate`.
    fn tenant(&self) -> &str {
        match self {
            Plane::Verify(a) => &a.tenant,
            Plane::Authenticate(_) | Plane::Authorize(_) => "",
        }
    }
}

/// The events of one decision: none built at all when no one takes them.
struct Events {
    wanted: bool,
    list: Vec<AuditEvent>,
}

/// Where the machine stands between steps.
#[allow(clippy::large_enum_variant)] // the answer waiting on a stamp; boxing it would cost an allocation per stamp
enum State {
    /// Nothing asked of the host yet.
    Start,
    /// A read round sent to the store: its keys (built once, for the request, the window and
    /// the parsed-document caches), the window's epoch when sent, and what the answers go to.
    Reading { keys: Vec<String>, sent_in: Option<u64>, then: Then },
    /// The last-use stamp sent; the answer and its event wait for its reply, as the event of
    /// an `async fn` would have been emitted after the stamp.
    Stamping { stamp: Stamp, finish: Finish },
    /// The answer was given.
    Finished,
}

/// What a read round's answers go to.
enum Then {
    /// A token check's first round: the token (keys: its key alone). `computed` is the digest
    /// of the presented secret.
    Token { computed: [u8; 32] },
    /// A token check's second round (keys: see [`super::credentials::Found`]).
    Account { token: Doc<Arc<TokenDoc>>, token_key: String, predecessor: bool },
    /// `authorize`'s only round (keys: see [`super::subject_keys`]).
    Subject,
}

/// An answer with the event that goes with it.
struct Finish {
    answer: Result<Answer>,
    event: Option<AuditEvent>,
}

/// What a step does next.
enum Flow {
    /// Read these keys (from the window or the store), then go on with `then`.
    Read { keys: Vec<String>, then: Then },
    /// Send the stamp, then finish.
    Stamp { stamp: Stamp, request: StoreRequest, finish: Finish },
    /// Finish.
    Done(Finish),
}

impl Flow {
    /// Finishes with an error raised before any event: a bad argument or a failing store.
    fn raise(error: Error) -> Flow {
        Flow::Done(Finish { answer: Err(error), event: None })
    }
}

/// One running `authenticate`, `verify` or `authorize`.
pub(crate) struct DataPlane {
    engine: Arc<Inner>,
    now: i64,
    plane: Plane,
    events: Events,
    state: State,
    /// The host's replies to the last batch, from [`DataPlane::provide`].
    replies: Option<Vec<StoreReply>>,
}

/// An event's target for a presented token: its id when it parses (never its secret). The id
/// is read back from the token's key (`k/<id>`), built once when the token was read.
fn token_target(token_key: Option<&str>) -> String {
    format!("token:{}", token_key.and_then(|k| k.strip_prefix("k/")).unwrap_or(""))
}

impl DataPlane {
    /// A decision about to start, at the host's time. Decisions draw no random bytes: the seed
    /// is not kept.
    pub fn new(engine: Arc<Inner>, env: Env, plane: Plane) -> DataPlane {
        DataPlane {
            engine,
            now: env.now,
            plane,
            events: Events { wanted: true, list: Vec::new() },
            state: State::Start,
            replies: None,
        }
    }

    /// No one takes this decision's events: none is built.
    pub fn without_events(&mut self) {
        self.events.wanted = false;
    }

    /// The events produced so far.
    pub fn take_events(&mut self) -> Vec<AuditEvent> {
        std::mem::take(&mut self.events.list)
    }

    /// Whether the answer was given.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Finished)
    }

    /// The host's replies to the last batch; the next step reads them.
    pub fn provide(&mut self, replies: Vec<StoreReply>) {
        self.replies = Some(replies);
    }

    /// Advances until the machine needs the store or is done. [`crate::Op`] makes sure the
    /// replies to a batch were provided before this is called again.
    pub fn step(&mut self) -> Step {
        let flow = match std::mem::replace(&mut self.state, State::Finished) {
            State::Start => self.start().unwrap_or_else(Flow::raise),
            State::Reading { keys, sent_in, then } => {
                let replies = self.replies.take().unwrap_or_default();
                let answers = replies_for(replies, keys.len())
                    .and_then(|r| r.into_iter().map(got).collect::<Result<Vec<Option<Versioned>>>>());
                match answers {
                    Ok(answers) => {
                        recent::read(&self.engine, sent_in, &keys, &answers, self.now);
                        self.answered(keys, answers, then).unwrap_or_else(Flow::raise)
                    }
                    Err(e) => Flow::raise(e),
                }
            }
            State::Stamping { stamp, finish } => {
                let replies = self.replies.take().unwrap_or_default();
                // Whatever the host answered, the decision stands.
                stamp.answered(&self.engine, replies_for(replies, 1));
                Flow::Done(finish)
            }
            State::Finished => return Step::Done(Err(Error::internal("operation already finished"))),
        };
        self.drive(flow)
    }

    /// Follows `flow` until the host is needed or the answer is known: a round the staleness
    /// window answers goes on at once.
    fn drive(&mut self, mut flow: Flow) -> Step {
        loop {
            flow = match flow {
                Flow::Read { keys, then } => match recent::lookup(&self.engine, &keys, self.now) {
                    Round::Answered(answers) => self.answered(keys, answers, then).unwrap_or_else(Flow::raise),
                    Round::Send(sent_in) => {
                        let requests = keys.iter().map(|key| StoreRequest::Get { key: key.clone() }).collect();
                        self.state = State::Reading { keys, sent_in, then };
                        return Step::Need(requests);
                    }
                },
                Flow::Stamp { stamp, request, finish } => {
                    self.state = State::Stamping { stamp, finish };
                    return Step::Need(vec![request]);
                }
                Flow::Done(Finish { answer, event }) => {
                    self.events.list.extend(event);
                    self.state = State::Finished;
                    return Step::Done(answer);
                }
            }
        }
    }

    /// The first step: arguments checked before any store access, then the first round.
    fn start(&mut self) -> Result<Flow> {
        let token = match &self.plane {
            Plane::Authorize(a) => {
                asked(&a.tenant, &a.permission, &a.resource)?;
                let keys = subject_keys(&a.identity_or_principal, &a.tenant)?;
                return Ok(Flow::Read { keys, then: Then::Subject });
            }
            Plane::Verify(a) => {
                asked(&a.tenant, &a.permission, &a.resource)?;
                &a.token
            }
            Plane::Authenticate(a) => &a.token,
        };
        let options = &self.engine.options;
        match format::parse(token.expose(), &options.token_prefix) {
            Ok(parsed) => {
                let computed = format::digest_secret(parsed.secret, options.pepper.as_deref());
                Ok(Flow::Read { keys: vec![token_key(parsed.id)], then: Then::Token { computed } })
            }
            // A malformed token or a bad checksum never reaches the store.
            Err(_) => Ok(self.failed(nobody(), None)),
        }
    }

    /// A round's answers, in the order of its keys.
    fn answered(&mut self, keys: Vec<String>, answers: Vec<Option<Versioned>>, then: Then) -> Result<Flow> {
        match then {
            Then::Token { computed } => {
                let token_key = keys.into_iter().next().unwrap_or_default();
                let raw = answers.into_iter().next().flatten();
                Ok(match token_read(&self.engine, &token_key, &computed, raw, self.plane.tenant())? {
                    Err(failed) => self.failed(failed, Some(&token_key)),
                    Ok(found) => Flow::Read {
                        keys: found.keys,
                        then: Then::Account { token: found.token, token_key, predecessor: found.predecessor },
                    },
                })
            }
            Then::Account { token, token_key, predecessor } => {
                self.checked(token, &token_key, &keys, predecessor, answers)
            }
            Then::Subject => self.authorized(&keys, answers),
        }
    }

    /// A credential failed: `authenticate` raises it, `verify` answers it as its decision.
    fn failed(&mut self, failed: Failed, token_key: Option<&str>) -> Flow {
        let Failed { error, account } = failed;
        let (now, events) = (self.now, &self.events);
        let reason = Some(error.code());
        match &self.plane {
            Plane::Authenticate(a) => {
                let event = events.wanted.then(|| {
                    let owner = account.as_ref().map(|acc| acc.tenant.as_str());
                    let d = details([("channel", Value::String(a.channel.as_str().to_owned()))]);
                    let target = token_target(token_key);
                    decision_event(now, owner, account.as_deref(), "auth.authenticate", target, reason, d)
                });
                Flow::Done(Finish { answer: Err(error), event })
            }
            Plane::Verify(a) => {
                let event = events.wanted.then(|| {
                    let q = Asked::checked(&a.permission, &a.resource);
                    let d = decision_details(&q, Some(a.channel));
                    let target = token_target(token_key);
                    decision_event(now, Some(&a.tenant), account.as_deref(), "auth.verify", target, reason, d)
                });
                let decision = denied(error.code(), account.as_ref().map(|acc| acc.principal.as_str()));
                Flow::Done(Finish { answer: Ok(Answer::Decision(decision)), event })
            }
            Plane::Authorize(_) => Flow::raise(Error::internal("authorize checks no credential")),
        }
    }

    /// A token check's second round: the answer for a token that holds, after its stamp.
    fn checked(
        &mut self,
        token: Doc<Arc<TokenDoc>>,
        token_key: &str,
        keys: &[String],
        predecessor: bool,
        answers: Vec<Option<Versioned>>,
    ) -> Result<Flow> {
        let (engine, now, events) = (&self.engine, self.now, &self.events);
        let (tenant, channel) = match &self.plane {
            Plane::Verify(a) => (a.tenant.as_str(), a.channel),
            Plane::Authenticate(a) => ("", a.channel),
            Plane::Authorize(_) => return Err(Error::internal("authorize checks no credential")),
        };
        let checked = match account_read(engine, now, token, tenant, keys, predecessor, answers, channel)? {
            Ok(checked) => checked,
            Err(failed) => return Ok(self.failed(failed, Some(token_key))),
        };
        let account = &checked.account;
        let finish = match &self.plane {
            Plane::Authenticate(a) => {
                let event = events.wanted.then(|| {
                    let d = details([("channel", Value::String(a.channel.as_str().to_owned()))]);
                    let target = token_target(Some(token_key));
                    decision_event(now, Some(&account.tenant), Some(account), "auth.authenticate", target, None, d)
                });
                let identity = identity_of(account, Some(&checked.token.value), a.channel);
                Finish { answer: Ok(Answer::Identity(identity)), event }
            }
            Plane::Verify(a) => {
                let q = Asked::checked(&a.permission, &a.resource);
                let scopes = checked.token.value.scopes.as_deref();
                let decision = decide(engine, account, &checked.access, scopes, &q)?;
                let event = events.wanted.then(|| {
                    let reason = (!decision.allowed).then_some(decision.reason.as_str());
                    let d = decision_details(&q, Some(a.channel));
                    let target = token_target(Some(token_key));
                    decision_event(now, Some(&a.tenant), Some(account), "auth.verify", target, reason, d)
                });
                Finish { answer: Ok(Answer::Decision(decision)), event }
            }
            Plane::Authorize(_) => return Err(Error::internal("authorize checks no credential")),
        };
        Ok(match stamp_due(now, &checked.token) {
            Some((key, value, expected)) => {
                let (stamp, request) = Stamp::send(engine, key, value, expected);
                Flow::Stamp { stamp, request, finish }
            }
            None => Flow::Done(finish),
        })
    }

    /// `authorize`'s round: an unknown subject is `not_found`; an identity whose token no
    /// longer holds, or an inactive account, is denied with why; else the rights decide.
    fn authorized(&mut self, keys: &[String], answers: Vec<Option<Versioned>>) -> Result<Flow> {
        let (engine, now, events) = (&self.engine, self.now, &self.events);
        let Plane::Authorize(a) = &self.plane else {
            return Err(Error::internal("only authorize reads a subject"));
        };
        let q = Asked::checked(&a.permission, &a.resource);
        let subject = &a.identity_or_principal;
        let Some(loaded) = subject_read(engine, now, subject, &a.tenant, keys, answers)? else {
            let reason = Error::not_found("").code();
            let event = events.wanted.then(|| {
                let target = subject.principal().to_owned();
                let d = decision_details(&q, None);
                decision_event(now, Some(&a.tenant), None, "auth.authorize", target, Some(reason), d)
            });
            return Ok(Flow::Done(Finish { answer: Ok(Answer::Decision(denied(reason, None))), event }));
        };
        let account = &loaded.account;
        let decision: Decision = match loaded.refused.or_else(|| status_error(account.status)) {
            Some(e) => denied(e.code(), Some(&account.principal)),
            None => decide(engine, account, &loaded.access, loaded.scopes.get(), &q)?,
        };
        let event = events.wanted.then(|| {
            let reason = (!decision.allowed).then_some(decision.reason.as_str());
            let d = decision_details(&q, None);
            decision_event(now, Some(&a.tenant), Some(account), "auth.authorize", account.principal.clone(), reason, d)
        });
        Ok(Flow::Done(Finish { answer: Ok(Answer::Decision(decision)), event }))
    }
}
