"""NEC UNIVERGE IX configurations: text → command tree (:mod:`.parser`) → model (:mod:`.model`),
and the first-match filter evaluator behind the lint's filter rules (:mod:`.filters`)."""
