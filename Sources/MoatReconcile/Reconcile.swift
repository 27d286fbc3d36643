// Diff, plan, execution: see the files beside this one.
