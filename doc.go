// Package tierup is the domain of the tierup service: plans and their
// catalog, accounts and subscriptions, money, upgrade quotes and the errors
// they produce, plus the interfaces of every outside dependency (the store,
// the clock). It performs no I/O and imports no adapter; adapters live in
// their own packages (sqlstore, httpapi, …) and depend on this one.
package tierup
