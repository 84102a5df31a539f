/** Whether a --database-url / DATABASE_URL names a PostgreSQL database (anything else is a SQLite file). */
export const isPostgresUrl = (location: string): boolean => /^postgres(ql)?:\/\//.test(location);
