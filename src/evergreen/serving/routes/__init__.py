"""HTTP routers of the serving app; ``evergreen.serving.app.ROUTERS`` lists the ones it includes."""
