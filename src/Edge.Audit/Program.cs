using Edge.Audit;

using var stop = new CancellationTokenSource();
return await AuditCommandLine.RunAsync(args, Console.Out, Console.Error, stop.Token);
