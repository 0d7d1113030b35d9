package operator

import "time"

// ConflictRetry is how soon a reconcile whose write lost an optimistic-lock race (the object changed since the
// cache read it: a kubelet's update, a user's edit, another controller's status) runs again on a fresh read. Such a
// conflict is no error to report: controller-runtime would log it with a stack trace and count it in
// controller_runtime_reconcile_errors_total.
const ConflictRetry = 100 * time.Millisecond
