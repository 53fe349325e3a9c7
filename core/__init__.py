"""LabelLoop logic over the FiftyOne SDK: no App types here, so every module is testable on its own."""
