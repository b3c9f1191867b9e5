"""Network edge toolkit: router configurations rendered and linted, DNS checks, subsidy estimate."""
