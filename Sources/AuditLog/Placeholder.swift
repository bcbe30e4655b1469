// AuditLog: placeholder, replaced by its issue's work.
