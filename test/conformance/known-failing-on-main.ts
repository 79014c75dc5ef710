// Matrix entries that fail on main today, each with its current difference in one line. An
// entry listed here runs as `it.fails`, so once runcell matches runc on it the test turns red
// until its line is deleted. Delete a line when its entry passes; never add one to make a
// regression pass.
export const KNOWN_FAILING_ON_MAIN: Readonly<Record<string, string>> = {
};
