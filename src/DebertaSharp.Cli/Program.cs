System.Console.WriteLine("deberta");
