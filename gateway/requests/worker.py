"""The work after a request is verified, done in the background and retried until it is done.

Each gateway process runs one :class:`RequestsWorker`. Every second it asks
the store for the request whose work is due first and takes a lease on it
(see ``Store.claim_request_work``: with several replicas on PostgreSQL, or
several processes on one SQLite file, each request is worked on by one
worker at a time; a worker that dies leaves its lease to run out). Then, in
order:

1. **case**: open the request as a case in the helpdesk's data-subject queue
   (``NewCase`` with the request id as idempotency key); without a helpdesk
   adapter there is none to open;
2. **receipt**: mail the receipt (request id, type, received, due date, the
   status link);
3. **export** (access and portability, once approved): gather the
   requester's data, store it encrypted, mail its download link; the request
   is then fulfilled;
4. **erase** (an approved erasure, when the policy anonymises cases): see
   below; the fulfilled mail waits for it;
5. **mails** of an operator's decision: extended, refused, fulfilled (an
   open request is fulfilled once its fulfilled mail is out).

An erasure anonymises (or deletes, by ``anonymisation.action``) the
requester's cases in ``policy.anonymisation_helpdesk`` with
:func:`~..anonymise.cases.anonymise_cases`: the cases of the verified
address, whose identifiers are that address, the name its local part spells
(``kari.nordmann@`` -> Kari Nordmann), the phone numbers the requester wrote,
and what the detectors find. The request's own case is left alone: it is the
erasure request's record, kept as the law requires. Each case is journalled
(trigger ``request <id>``), and a summary is added to the request's own case
as an internal note: the cases touched (references), the replacements by kind
with their counts, and what the helpdesk could not do, never a removed
value. Then, by outcome:

- all done: the erasure is done; the fulfilled mail goes;
- a failure that trying again may cure (the helpdesk down, a case busy or
  left for a re-run): the erasure stays to do, retried like any work (counted
  as ``erase`` in the errors metric);
- anything else (an operation the helpdesk does not offer, a case in a
  state the policy does not allow, a case that cannot be read): the request
  is *not* fulfilled and no mail goes; ``last_error`` is
  ``erasure_incomplete``, the note lists what remains, and an operator closes
  it (:mod:`.lifecycle`: approve again once done by hand, or refuse).

A step that fails (the helpdesk or the smarthost down) stays to do and the
request is tried again after ``requests.retry.initial``, doubling up to
``requests.retry.max``; the requester sees "received" meanwhile, operators
see the error in ``data_subject_request_errors_total`` and the log (the
error word, never an address). The worker also refreshes the gauges (open,
overdue, due soon, oldest) and purges what has expired.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..anonymise.cases import CaseReport, anonymise_cases
from ..anonymise.journal import Journal
from ..anonymise.run import Pacer
from ..helpdesks.base import HelpdeskAdapter, HelpdeskError, NewCase
from ..lib.background import Background
from ..metrics import Metrics
from ..policy.helpdesks import HelpdeskSettings
from ..store import Store, StoreError
from ..store.cases import owner_name
from ..store.requests import OPEN_STATES, ExportBlob, SubjectRequest, Work, WorkResult
from . import export, lifecycle
from .compiled import CompiledRequests, Erasure
from .keys import Unsealable
from .mail import MailError
from .metrics import RequestMetrics, request_metrics
from .texts import days, iso_date, iso_time, type_name

log = logging.getLogger("gateway.requests")

AdapterFactory = Callable[[HelpdeskSettings], HelpdeskAdapter]
#: Returns the portal serving now (its compiled section and store), or None when the policy has none.
Current = Callable[[], "tuple[CompiledRequests, Store] | None"]

POLL_SECONDS = 1.0
LEASE_SECONDS = 300.0  # longer than any helpdesk call with its retries
STATS_SECONDS = 10.0
PURGE_SECONDS = 300.0
DUE_SOON_SECONDS = 7 * 86400.0
BATCH = 20  # requests worked on per poll at most


def default_adapter(settings: HelpdeskSettings) -> HelpdeskAdapter:
    from ..helpdesks.registry import adapter_for

    return adapter_for(settings)


def case_for(request: SubjectRequest, private: lifecycle.Private, compiled: CompiledRequests) -> NewCase:
    """The helpdesk case of a request: what agents need to act, in English (the queue's language)."""
    lines = [
        f"Data-subject request {request.request_id}: {type_name(request.kind, 'en')}",
        "",
        f"Received: {iso_time(request.created_at)} (e-mail address verified)",
        f"Answer by: {iso_date(request.due_at)} (GDPR Art. 12(3))",
        f"Requester: {private.email}",
    ]
    if private.reference:
        lines.append(f"Case reference given: {private.reference}")
    if private.text:
        lines += ["", "The requester wrote:", private.text]
    lines += ["", f"Approve, refuse or extend it with: privacy-gateway requests approve|refuse|extend "
              f"{request.request_id} --policy ..."]
    return NewCase(title=f"[{request.request_id}] Data-subject request: {type_name(request.kind, 'en')}",
                   body="\n".join(lines), requester=private.email,
                   tags=("data-subject-request", request.kind), idempotency_key=request.request_id)


@dataclass(slots=True)
class _Progress:
    done: int = 0
    failed: str = ""
    case_id: str = ""
    case_reference: str = ""
    fulfilled: bool = False
    export_id: str = ""
    export_expires_at: float = 0.0
    errors: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


class RequestsWorker(Background):
    task_name = "requests-worker"

    def __init__(self, current: Current, metrics: Metrics, *, adapter_factory: AdapterFactory = default_adapter,
                 ) -> None:
        self.current = current
        self.registry_metrics = metrics  # the anonymisation journal counts its cases there
        self.metrics: RequestMetrics = request_metrics(metrics)
        self.adapter_factory = adapter_factory
        self.owner = owner_name()
        self._adapters: dict[HelpdeskSettings, HelpdeskAdapter] = {}
        self._stats_at = 0.0
        self._purge_at = 0.0
        self.wake = asyncio.Event()

    async def stop(self) -> None:
        await super().stop()
        for adapter in self._adapters.values():
            await adapter.close()
        self._adapters.clear()

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except StoreError:
                pass  # the store's own health logging says so; tried again at the next poll
            except Exception:
                log.exception("the data-subject request worker failed; it carries on")
            try:
                async with asyncio.timeout(POLL_SECONDS):
                    await self.wake.wait()
            except TimeoutError:
                pass
            self.wake.clear()

    def adapter(self, settings: HelpdeskSettings | None) -> HelpdeskAdapter | None:
        """The adapter for ``settings`` (kept while the policy uses the settings, closed when it no longer does)."""
        if settings is None:
            return None
        adapter = self._adapters.get(settings)
        if adapter is None:
            adapter = self._adapters[settings] = self.adapter_factory(settings)
        return adapter

    def _keep_adapters(self, compiled: CompiledRequests) -> None:
        """Close the adapters of helpdesk settings the policy serving now no longer names."""
        wanted = {compiled.settings.helpdesk, compiled.erasure.helpdesk if compiled.erasure else None}
        for old in [settings for settings in self._adapters if settings not in wanted]:
            asyncio.get_running_loop().create_task(self._adapters.pop(old).close())

    async def run_once(self, now: float | None = None) -> int:
        """One poll: gauges and purging when due, then the work due now; the requests worked on."""
        found = self.current()
        if found is None:
            return 0
        compiled, store = found
        self._keep_adapters(compiled)
        clock = time.time() if now is None else now
        if clock >= self._stats_at:
            await self.refresh_stats(compiled, store, clock)
            self._stats_at = clock + STATS_SECONDS
        if clock >= self._purge_at:
            removed = await store.purge_requests(clock)
            if removed:
                log.info("expired verifications, exports and rate windows deleted", extra={"fields": {"rows": removed}})
            self._purge_at = clock + PURGE_SECONDS
        worked = 0
        while worked < BATCH:
            request = await store.claim_request_work(self.owner, clock if now is not None else time.time(),
                                                     LEASE_SECONDS)
            if request is None:
                break
            worked += 1
            await self._work(compiled, store, request, clock if now is not None else time.time())
        if worked:
            await self.refresh_stats(compiled, store, clock)
        return worked

    async def refresh_stats(self, compiled: CompiledRequests, store: Store, now: float) -> None:
        stats = await store.request_stats(now, DUE_SOON_SECONDS)
        for kind in {*stats.open_by_kind, *compiled.settings.types}:  # every type offered, 0 when none is open
            self.metrics.open.labels(kind).set(stats.open_by_kind.get(kind, 0))
        self.metrics.overdue.set(stats.overdue)
        self.metrics.due_soon.set(stats.due_soon)
        self.metrics.oldest_open_age.set(max(0.0, now - stats.oldest_created_at) if stats.oldest_created_at else 0)

    # -- one request ---------------------------------------------------------------------------------------------

    async def _work(self, compiled: CompiledRequests, store: Store, request: SubjectRequest, now: float) -> None:
        progress = _Progress()
        try:
            private = lifecycle.unseal(compiled.keys, request.sealed, request.request_id)
        except Unsealable:
            # Sealed with a key no longer in the ring: nothing can be done for it; operators see it in the log.
            log.error("a request does not open with the key ring; its work is dropped",
                      extra={"fields": {"request": request.request_id}})
            progress.done = request.work
            progress.failed = "unsealable"
        else:
            adapter = self.adapter(compiled.settings.helpdesk)
            await self._steps(compiled, store, request, private, adapter, progress, now)
        retry = compiled.settings.retry
        attempts = request.attempts + 1 if progress.errors else 0
        wait = min(retry.max, retry.initial * 2 ** max(0, attempts - 1)) if progress.errors else 0.0
        # An erasure left incomplete says so until an operator decides, whatever other work succeeds meanwhile.
        still = (lifecycle.ERASURE_INCOMPLETE if request.is_open and request.last_error == lifecycle.ERASURE_INCOMPLETE
                 and not progress.fulfilled else "")
        result = WorkResult(progress.done, time.time(), attempts=attempts, next_attempt_at=now + wait,
                            last_error=still or progress.failed, case_id=progress.case_id,
                            case_reference=progress.case_reference, fulfilled=progress.fulfilled,
                            export_id=progress.export_id, export_expires_at=progress.export_expires_at)
        if not await store.finish_request_work(request.request_id, self.owner, result):
            log.warning("a request's lease ran out before its work was recorded; it is tried again",
                        extra={"fields": {"request": request.request_id}})
        if progress.errors:
            log.warning("a request's work failed; it is kept and tried again", extra={"fields": {
                "request": request.request_id, "error": progress.failed, "attempts": attempts,
                "retry_in": round(wait, 1), "helpdesk": progress.details}})

    async def _steps(self, compiled: CompiledRequests, store: Store, request: SubjectRequest,
                     private: lifecycle.Private, adapter: HelpdeskAdapter | None, progress: _Progress,
                     now: float) -> None:
        work = request.work
        status = compiled.status_link(request.request_id, now)
        language = request.language
        if work & Work.CASE:
            if adapter is None:
                progress.done |= Work.CASE
            else:
                try:
                    ref = await adapter.open_case(case_for(request, private, compiled))
                except HelpdeskError as exc:
                    self._failed(progress, "case", "helpdesk_unavailable" if exc.retryable else "helpdesk_refused",
                                 exc)
                else:
                    progress.done |= Work.CASE
                    progress.case_id, progress.case_reference = ref.id, ref.reference or ref.id
                    self.metrics.requests.labels(request.kind, "case_opened").inc()
                    log.info("data-subject request opened in the helpdesk", extra={"fields": {
                        "request": request.request_id, "case": progress.case_reference}})
        values = {"request_id": request.request_id, "type": type_name(request.kind, language), "link": status}
        if work & Work.RECEIPT:
            await self._mail(compiled, progress, Work.RECEIPT, "receipt", language, private.email, values,
                             received=iso_time(request.created_at), due=iso_date(request.due_at))
        if work & Work.EXPORT:
            if request.state not in OPEN_STATES:
                progress.done |= Work.EXPORT  # refused meanwhile: nothing to release
            elif work & Work.CASE and not progress.done & Work.CASE:
                pass  # the helpdesk did not answer: the export waits for it too
            else:
                await self._export(compiled, store, request, private, adapter, progress, now, values)
        if work & Work.ERASE:
            if not request.is_open:
                progress.done |= Work.ERASE | Work.MAIL_FULFILLED  # refused meanwhile: nothing to erase or tell
            elif work & Work.CASE and not progress.done & Work.CASE:
                pass  # the helpdesk did not answer: the erasure waits for the case it reports to
            else:
                await self._erase(compiled, store, request, private, adapter, progress)
        for bit, kind in ((Work.MAIL_EXTENDED, "extended"), (Work.MAIL_REFUSED, "refused"),
                          (Work.MAIL_FULFILLED, "fulfilled")):
            if not work & bit or progress.done & bit:
                continue  # nothing to send, or dropped (an incomplete erasure's)
            if bit == Work.MAIL_FULFILLED:
                if work & Work.ERASE and not progress.done & Work.ERASE:
                    continue  # its erasure is not done yet
                if request.state == "refused":
                    progress.done |= bit  # refused after its approval: the refusal is what the requester hears
                    continue
            await self._mail(compiled, progress, bit, kind, language, private.email, values,
                             reason=request.reason, due=iso_date(request.due_at))
            if progress.done & bit:  # counted once, when the requester has been told (or cannot be)
                self.metrics.requests.labels(request.kind, kind).inc()
                if bit == Work.MAIL_FULFILLED and request.is_open:
                    progress.fulfilled = True  # an erasure: fulfilled once its cases are done and it is told

    async def _export(self, compiled: CompiledRequests, store: Store, request: SubjectRequest,
                      private: lifecycle.Private, adapter: HelpdeskAdapter | None, progress: _Progress, now: float,
                      values: dict[str, str]) -> None:
        export_id, expires = request.export_id, request.export_expires_at
        if not (export_id and expires > now and not request.export_downloaded_at):  # else: only its mail failed
            try:
                gathered = await export.gather(compiled, store, request, private, adapter)
            except HelpdeskError as exc:
                self._failed(progress, "export", "helpdesk_unavailable" if exc.retryable else "helpdesk_refused",
                             exc)
                return
            organisation = compiled.mailer.organisation
            archive = export.archive(gathered, organisation=organisation, now=now)
            export_id, expires = secrets.token_hex(16), now + compiled.settings.export_ttl
            sealed = compiled.keys.seal(archive, export_id.encode("ascii"))
            await store.add_export(ExportBlob(export_id, request.request_id, now, expires, sealed))
            progress.export_id, progress.export_expires_at = export_id, expires
            log.info("data-subject request export stored, encrypted", extra={"fields": {
                "request": request.request_id, "cases": len(gathered.cases), "bytes": len(archive)}})
        link = compiled.download_link(export_id, expires)
        sent = await self._mail(compiled, progress, Work.EXPORT, "export", request.language, private.email,
                                {**values, "link": link}, days=days(compiled.settings.export_ttl, request.language))
        if sent:
            progress.fulfilled = True
            self.metrics.requests.labels(request.kind, "fulfilled").inc()

    async def _erase(self, compiled: CompiledRequests, store: Store, request: SubjectRequest,
                     private: lifecycle.Private, adapter: HelpdeskAdapter | None, progress: _Progress) -> None:
        """Anonymise the requester's cases and add the summary to the request's own case (see the module)."""
        erasure = compiled.erasure
        own_case = progress.case_id or request.case_id
        reports: list[CaseReport] = []
        problem = ""
        if erasure is None:
            problem = "anonymisation is off in the policy (anonymisation.enabled): no case was anonymised"
        else:
            target = self.adapter(erasure.helpdesk)
            assert target is not None
            journal = Journal.for_policy(erasure.policy, store, target.name, f"request {request.request_id}",
                                         metrics=self.registry_metrics)
            try:
                reports = await anonymise_cases(
                    target, erasure.settings, email=private.email, names=requester_names(private.email),
                    phones=phones_in(private.text, erasure), scanner=erasure.scanner, journal=journal,
                    pace=Pacer(erasure.settings.rate_limit),
                    exclude={own_case} if erasure.same_helpdesk and own_case else set())
            except HelpdeskError as exc:
                if exc.retryable:
                    self._failed(progress, "erase", "helpdesk_unavailable", exc)
                    return
                progress.details.append(str(exc)[:300])
                problem = f"the search for the requester's cases failed: {exc}"[:500]
        retry = [r for r in reports if r.state in ("retry", "busy") or (r.state == "unreadable" and r.retryable)]
        left = [r for r in reports if not r.complete and r not in retry]
        outcome = "retry" if retry else "incomplete" if left or problem else "done"
        if outcome != "retry" or any(_did_something(r) for r in reports):  # a note for agents when it matters
            text = erasure_note(request, reports, outcome, problem, earlier=request.attempts > 0)
            noted = await self._note(compiled, request, adapter, own_case, text, progress)
            if not noted:
                return  # retried: the note is how agents learn what was done (what was done is not done twice)
        if outcome == "retry":
            self._failed(progress, "erase", "erasure_retry")
            return
        progress.done |= Work.ERASE
        await self._reduce_own_data(compiled, store, request, private)
        if outcome == "incomplete":
            progress.done |= Work.MAIL_FULFILLED  # not fulfilled: the requester is told once people finish it
            progress.failed = lifecycle.ERASURE_INCOMPLETE  # before any other word: it is what operators must act on
            self.metrics.work_errors.labels("erase", "false").inc()
            log.warning("an erasure request's cases could not all be anonymised; people must finish it",
                        extra={"fields": {"request": request.request_id, "cases": len(reports),
                                          "left": len(left), "helpdesk": [r.state for r in left][:20]}})
        else:
            log.info("an erasure request's cases were anonymised", extra={"fields": {
                "request": request.request_id, "cases": len(reports)}})

    async def _reduce_own_data(self, compiled: CompiledRequests, store: Store, request: SubjectRequest,
                               private: lifecycle.Private) -> None:
        """What the gateway itself holds of the requester, reduced: their other, closed requests keep who asked,
        what and what was decided, not what they wrote, the case they named or their browser's consent ids, and
        their exports go. The erasure request is kept whole: it is the proof of the erasure (Art. 5(2), 17)."""
        reduced = 0
        for other in await store.requests_for(compiled.keys.email_hashes(private.email)):
            if other.request_id == request.request_id or other.is_open:
                continue  # an open one still needs what it holds
            try:
                held = lifecycle.unseal(compiled.keys, other.sealed, other.request_id)
            except Unsealable:
                continue
            if held.text or held.reference or held.consents or other.export_id:
                less = replace(held, reference="", text="", consents=())
                reduced += bool(await store.reduce_request(other.request_id,
                                                           lifecycle.seal(compiled.keys, less, other.request_id)))
        if reduced:
            log.info("an erasure request's earlier requests were reduced", extra={"fields": {
                "request": request.request_id, "requests": reduced}})

    async def _note(self, compiled: CompiledRequests, request: SubjectRequest, adapter: HelpdeskAdapter | None,
                    case_id: str, text: str, progress: _Progress) -> bool:
        """Add ``text`` to the request's own case; False when trying again may work (counted, retried)."""
        if adapter is None or not case_id:
            return True  # no case to report to: the journal and the log hold it
        try:
            await adapter.add_note(case_id, text)
        except HelpdeskError as exc:
            if exc.retryable:
                self._failed(progress, "erase", "helpdesk_unavailable", exc)
                return False
            progress.details.append(str(exc)[:300])  # NotSupported, refused: the journal keeps the account
            log.warning("an erasure request's note could not be added to its case", extra={"fields": {
                "request": request.request_id, "error": str(exc)[:300]}})
        return True

    async def _mail(self, compiled: CompiledRequests, progress: _Progress, bit: int, kind: str, language: str,
                    to: str, values: dict[str, str], **extra: str) -> bool:
        message = compiled.mailer.compose(kind, language, to, **{**values, **extra})
        try:
            await compiled.mailer.send(message)
        except MailError as exc:
            if exc.permanent:  # the address refuses mail: trying again changes nothing
                progress.done |= bit
                self.metrics.work_errors.labels("mail", "false").inc()
                log.warning("a request's mail was refused by the smarthost", extra={"fields": {
                    "mail": kind, "error": exc.reason}})
                return False
            self._failed(progress, "mail", "mail_unavailable")
            return False
        progress.done |= bit
        return True

    def _failed(self, progress: _Progress, work: str, error: str, exc: HelpdeskError | None = None) -> None:
        if exc is not None:  # the adapters' messages name the operation and the status, never personal data
            progress.details.append(str(exc)[:300])
        progress.errors.append(error)
        progress.failed = progress.failed or error
        self.metrics.work_errors.labels(work, "true").inc()


_NAME_PART = re.compile(r"[^\W\d_]{2,}")


def requester_names(email: str) -> tuple[str, ...]:
    """The name an address's local part spells (``kari.nordmann`` -> ``Kari Nordmann``); none if it spells none."""
    local = email.strip().rpartition("@")[0]
    parts = re.split(r"[._-]+", local)
    if len(parts) < 2 or not all(_NAME_PART.fullmatch(part) for part in parts):
        return ()
    return (" ".join(part.capitalize() for part in parts),)


def phones_in(text: str, erasure: Erasure) -> tuple[str, ...]:
    """The phone numbers the requester wrote in the request, so their other spellings are found too."""
    return tuple(dict.fromkeys(text[d.start:d.end] for d in erasure.scanner.scan(text) if d.kind == "phone"))


def _did_something(report: CaseReport) -> bool:
    return report.result is not None and any(r.outcome == "done" for r in report.result.results)


def erasure_note(request: SubjectRequest, reports: list[CaseReport], outcome: str, problem: str = "", *,
                 earlier: bool = False) -> str:
    """The internal note of an erasure: what was done to which case, by kind and count; never a removed value."""
    heading = {"done": "done: every case of the requester is anonymised",
               "retry": "partly done; the gateway tries the rest again",
               "incomplete": "NOT complete: a person must finish it (see below), then approve the request again "
                             "(or refuse it with the reason)"}[outcome]
    lines = [f"Erasure for data-subject request {request.request_id}: {heading}.", "",
             "This case is the request's own record: it is kept and was not anonymised."]
    if earlier:
        lines.append("Earlier attempts' notes list the cases anonymised before.")
    if problem:
        lines += ["", problem]
    done = [r for r in reports if r.complete]
    lines += ["", f"Cases of the requester found: {len(reports)}; anonymised completely: {len(done)}."]
    totals: dict[str, int] = {}
    for report in reports:
        if report.result is None:
            continue
        for kind, count in report.result.plan.replacements.items():
            totals[kind] = totals.get(kind, 0) + count
        shown = ", ".join(f"{k} {v}" for k, v in sorted(report.result.plan.replacements.items())) or "nothing"
        lines.append(f"- {report.case} ({report.result.plan.action}, {report.state}): replaced {shown}")
    if totals:
        lines.append("Replacements in all: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())))
    remaining: list[str] = []
    for report in reports:
        if report.result is None:
            why = ("another process is on it" if report.busy else f"its state ({report.state_refused}) is not one "
                   "anonymisation.states allows: once it is closed, anonymise it with privacy-gateway cases "
                   "anonymise --case <its id> (or now, with --force)"
                   if report.state_refused else f"it could not be read: {report.error}")
            remaining.append(f"- {report.case}: {why}")
            continue
        for result in report.result.results:
            if result.outcome == "not_supported":
                remaining.append(f"- {report.case}: {result.operation.replace('_', ' ')} of {result.target}: "
                                 f"the helpdesk cannot do it; do it by hand ({result.error})")
            elif result.outcome in ("failed", "deferred"):
                remaining.append(f"- {report.case}: {result.operation.replace('_', ' ')} of {result.target}: "
                                 f"{result.outcome}{' (retried)' if result.retryable else ''}")
    if remaining:
        lines += ["", "What remains:", *remaining]
    return "\n".join(lines)


def portal_of(runtime: object) -> tuple[CompiledRequests, Store] | None:
    """The portal of a Runtime's chain, with its store; None when the policy has none."""
    chain = getattr(runtime, "chain", None)
    store = getattr(runtime, "store", None)
    for flt in getattr(chain, "filters", ()):
        compiled = getattr(flt, "compiled", None)
        if getattr(flt, "name", "") == "requests" and isinstance(compiled, CompiledRequests) and store is not None:
            return compiled, store
    return None
