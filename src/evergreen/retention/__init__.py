"""Retention (`evergreen gc`, DESIGN.md §3 `retention`): the plan is pure, the deletions audited."""
