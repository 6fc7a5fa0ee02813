package opa

import "context"

type managerKey struct{}

func withManager(ctx context.Context, m *Manager) context.Context {
	return context.WithValue(ctx, managerKey{}, m)
}

// ManagerFrom returns the Manager that runs a Setup, from the Setup's ctx,
// or nil. A Setup runs before Startup returns, so the package-level
// functions (GetInstance, CallHook, ...) do not see its Manager yet; the
// Manager's own methods (Component, Instance, CallHook, HookFuncOf) work:
//
//	func migrate(ctx context.Context, r chi.Router) error {
//		db, err := opa.InstanceOf[*sql.DB](opa.ManagerFrom(ctx), "db")
//		...
//	}
func ManagerFrom(ctx context.Context) *Manager {
	m, _ := ctx.Value(managerKey{}).(*Manager)
	return m
}
