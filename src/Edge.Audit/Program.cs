Console.Error.WriteLine("edge-audit: the audit service is not built yet (issue: the central audit store).");
return 2;
