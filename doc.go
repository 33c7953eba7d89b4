// Package tierup is the domain of the tierup service: plans and their
// catalog, accounts and subscriptions, money, upgrade quotes, the upgrade
// and its state machine (transition.go), the errors they produce, and the
// interfaces of every outside dependency: the Store, the JobQueue, the
// PaymentGateway, the Cluster, the Mailer, the Clock and the sandbox's
// parts. It performs no I/O and imports no adapter; adapters live in their
// own packages and depend on this one, and package stack wires them.
//
// # How an upgrade flows
//
// One upgrade, from the API call to completion, hop by hop:
//
//  1. httpapi/upgrades.go: POST /v1/upgrades decodes the request and calls
//     app.CreateUpgrade (httpapi/views.go shapes every answer).
//  2. app/upgrades.go: CreateUpgrade checks the terms, the payment rate, the
//     quote's signature (quote.go), expiry and owner and the card, builds the
//     record with NewUpgrade (upgrade.go) and, in one store transaction,
//     asks the engine to create it and keeps the Idempotency-Key.
//  3. workflow/engine.go: Engine.Create stores the upgrade (sqlstore/upgrades.go
//     writes it as its own document, sqlstore/docs.go), its first audit
//     event and the payment step's job (JobQueue.Enqueue; riverqueue
//     inserts it into River in the same transaction).
//  4. riverqueue/riverqueue.go hands the job to workflow/steps.go: work
//     claims the step (Upgrade.StartStep, transition.go) and commits;
//     act runs it outside any transaction — the charge through the
//     PaymentGateway (sandbox/gateway.go or gateway/stripegw), the plan's
//     dedicated nodes (asked for in parallel) and the workloads through
//     the Cluster (sim/sim.go or kube/), the notification through the
//     Mailer (notify/smtpmail).
//  5. workflow/finish.go: finish records the outcome with one transition
//     (StepSucceeded, StepFailed, Pause, PaymentDeclined, NeedSupport) and
//     commits it with the finished job's completion and what comes next: a
//     step due at once is claimed for the same worker, which runs it
//     straight away (workflow/chain.go); a later one, or any while the
//     process shuts down, is a job. After notify, StepSucceeded completes
//     the upgrade.
//  6. Every save appends an UpgradeEvent; eventstream serves them as
//     Server-Sent Events to the API (GET /v1/upgrades/{id}/events) and the
//     dashboard (web/pages.go), waking on the engine's publishes.
//
// Off the straight path: workflow/actions.go holds the admin's Retry and
// Cancel and the user's RetryPayment; workflow/compensate.go undoes an
// upgrade one part per job; workflow/recover.go beats the process's heartbeat
// and resumes what a dead process left, both judged by the database's clock
// (sqlstore/processes.go); workflow/shutdown.go hands a stopping process's
// steps back (HandBackStep) for another to continue at once, which
// stack/serve.go's graceful shutdown ends with.
package tierup
