package opa

import "context"

type managerKey struct{}

func withManager(ctx context.Context, m *Manager) context.Context {
	return context.WithValue(ctx, managerKey{}, m)
}

// ManagerFrom returns the Manager that runs a Setup, from the Setup's ctx,
// or nil. It suits hosts that make their Manager with New and keep no
// default; after a package-level Startup, the package-level functions
// (GetInstance, CallHook, ...) answer from the same Manager in setups:
//
//	func migrate(ctx context.Context, r chi.Router) error {
//		db, err := opa.InstanceOf[*sql.DB](opa.ManagerFrom(ctx), "db")
//		...
//	}
func ManagerFrom(ctx context.Context) *Manager {
	m, _ := ctx.Value(managerKey{}).(*Manager)
	return m
}
