/** Exit code of the last action; set by defineAction, read by main(). Its own module so `--help` loads nothing else. */
export const runState = { exitCode: 0 };
