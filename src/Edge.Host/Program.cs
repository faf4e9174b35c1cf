using Edge.Host;

MallocArenas.LimitUnlessConfigured();
return await EdgeCommandLine.RunAsync(args).ConfigureAwait(false);
